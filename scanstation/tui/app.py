"""ScanStationApp: wires the settings, the key capture and the station screen.

The app catches every key before any binding or widget sees it (a scanner burst must never
reach them) and hands scans to the station screen, which owns the station's behaviour. It
also keeps the interpreter tuned for a flood of scans, and quits when asked. It never touches
the database itself.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events
from textual._time import get_time
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input

from scanstation.config import Settings
from scanstation.domain.model import utc_now
from scanstation.domain.roles import Action
from scanstation.domain.stages import Mode
from scanstation.tui.actions import palette_commands
from scanstation.tui.capture import (
    UNREAD_WAIT_S,
    BurstNotRead,
    FlushDue,
    KeyCapture,
    KeysOnTheWay,
    burst_sentence,
    terminal_has_unread,
    untype,
    wedge_settings,
)
from scanstation.tui.intake import split_paste
from scanstation.tui.probe import StationHooks
from scanstation.tui.screens.station import StationScreen
from scanstation.tui.station_state import StationState, login_name

if TYPE_CHECKING:
    from scanstation.sources.wedge import Burst
    from scanstation.station import Station

__all__ = ["ScanStationApp", "split_paste"]


def _open_station(settings: Settings, **options: Any) -> Station:
    from scanstation.station import open_station  # the store loads after the first paint

    return open_station(settings, **options)


_log = logging.getLogger(__name__)

FLUSH_TICK_S = 0.01  # how often buffered keys are checked against the detector's deadline
SWITCH_INTERVAL_S = 0.0005
TIDY_EVERY_S = 20.0
TIDY_IDLE_S = 2.0
GC_FULL_EVERY = 100  # gen-1 collections between full ones (Python's default is 10)


class ScanStationApp(App[int]):
    """The scanning station."""

    TITLE = "scanstation"
    CSS_PATH = Path(__file__).with_name("station.tcss")  # absolute: subclasses live elsewhere

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        database_url: str,
        station_id: str | None = None,
        site: str | None = None,
        mode: str | None = None,
        operator: str | None = None,
        document: str | None = None,
        now: Callable[[], datetime] = utc_now,
        clock_text: str | None = None,
        journal: bool | None = None,
        hooks: StationHooks | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.database_url = database_url
        # A kiosk: no palette (theme, screenshots, quit), and no key leaves or suspends it.
        self.kiosk = settings.station.kiosk
        self.use_command_palette = not self.kiosk
        self.hooks = hooks or StationHooks()  # tests and benchmarks attach a StationProbe
        self.hooks.attach(self)
        config = settings.station
        state = StationState(
            station_id=station_id or config.id,
            site_code=site or config.site,
            mode=Mode(mode or config.mode),
            operator=operator or config.operator or login_name(),
            document=document or config.document or None,
        )
        # The offline journal: None follows `[station] journal`.
        journal_enabled = config.journal if journal is None else journal
        if settings.ui.theme and settings.ui.theme in self.available_themes:
            self.theme = settings.ui.theme
        elif settings.ui.theme:
            _log.warning(
                "[ui] theme %r is not a Textual theme; using the default", settings.ui.theme
            )
        self.capture = KeyCapture(
            wedge_settings(settings.scanner), self._wedge_scan, self._wedge_burst
        )
        self._keys_on_the_way = KeysOnTheWay()
        self.station = StationScreen(
            settings,
            state,
            database_url=database_url,
            # The one way a face opens the database (the door): called by the worker thread.
            open_station=partial(
                _open_station,
                settings,
                database_url=database_url,
                station_id=state.station_id,
                journal=journal_enabled,
            ),
            journaled=journal_enabled,
            hooks=self.hooks,
            on_ready=self._tune_memory,
            clock_text=clock_text,
            now=now,
        )
        self._switch_interval = sys.getswitchinterval()
        self._gc_threshold = gc.get_threshold()
        self._gc_tuned = False
        self._flush_posted = False
        self._quit_armed = False
        self._typed: tuple[events.Key, Input] | None = None  # the last key replayed into a field

    # -- start and stop -----------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return self.station

    def on_load(self) -> None:
        # Textual starts reading the terminal right after Load: what was typed before comes
        # in its first read, without timing.
        self.capture.reading_from(get_time())

    def on_mount(self) -> None:
        # The writer thread gives up the GIL in every SQLite call and must win it back from a
        # UI thread that may be drawing; with Python's 5 ms switch interval each of those
        # waits can take 5 ms (a convoy), which capped a flood of scans at ~60/s.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._flush_timer = self.set_interval(FLUSH_TICK_S, self._wedge_tick, pause=True)
        self.set_interval(TIDY_EVERY_S, self._tidy_memory)

    def on_unmount(self) -> None:
        self.stop_worker()
        # Leave the interpreter as it was found (tests run many apps in one process).
        sys.setswitchinterval(self._switch_interval)
        if self._gc_tuned:
            gc.unfreeze()
            gc.set_threshold(*self._gc_threshold)

    def stop_worker(self) -> None:
        self.station.stop()

    async def action_quit(self) -> None:
        """Quit; scans not yet in the database hold the first ctrl+q back with a warning.
        A kiosk is left only with a supervisor's approval (with no users, not at all)."""
        if self.kiosk and not self.station.people.has_users:
            self.kiosk_locked("quitting")
            return
        if self.kiosk:
            self.station.people.ask_approval(Action.KIOSK_CONTROLS, lambda _: self._quit())
            return
        self._quit()

    def _quit(self) -> None:
        worker = self.station.worker
        pending = worker.pending if worker is not None else 0
        if worker is not None and worker.journaled:
            self._quit_journaled(pending + self.station.db.journal_pending)
            return
        if pending and not self._quit_armed:
            self._quit_armed = True
            self.notify(
                f"{pending} scan(s) are not saved yet. Press ctrl+q again to quit anyway "
                "(they will be lost).",
                title="Not saved",
                severity="error",
                markup=False,
            )
            return
        self.exit(0)

    def _quit_journaled(self, waiting: int) -> None:
        """Scans not in the site database yet are in this terminal's journal (those still
        queued are put there as the worker stops): quitting loses nothing, and says so."""
        if waiting and not self._quit_armed:
            self._quit_armed = True
            self.notify(
                f"{waiting} scan(s) are not in the site database yet. They are saved in this "
                "terminal's offline journal and sent when the station starts again: quitting "
                "loses nothing. Press ctrl+q again to quit.",
                title="Saved on this terminal",
                severity="warning",
                markup=False,
            )
            return
        note = None
        if waiting:
            note = Text(
                f"scanstation: {waiting} scan(s) wait in this terminal's offline journal; "
                "they are sent when the station starts again (or `scanstation journal replay`)"
            )
        self.exit(0, message=note)

    # -- the kiosk ----------------------------------------------------------------------------

    def kiosk_locked(self, what: str) -> None:
        self.notify(
            f"This station is a kiosk: {what} is not available here.",
            title="Kiosk",
            severity="warning",
            markup=False,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A kiosk's ctrl+q asks a supervisor; with no users it is hidden and does nothing.
        return not (self.kiosk and action == "quit" and not self.station.people.has_users)

    def action_help_quit(self) -> None:
        """ctrl+c: Textual says how to quit; a kiosk says it cannot be left."""
        if self.kiosk:
            self.kiosk_locked("quitting")
        else:
            super().action_help_quit()

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        if not self.kiosk:  # a passer-by must not fill the disk with screenshots
            super().action_screenshot(filename, path)

    # -- key capture --------------------------------------------------------------------------

    def _post_message(self, message: Message) -> Coroutine[Any, Any, bool]:
        """A driver hands each event it reads to the app by making this coroutine in its
        reader thread (the event loop runs it later, when it gets to it): a key is recorded as
        on its way here, in that thread, right after it was stamped."""
        if isinstance(message, events.Key) and not message.is_forwarded:
            self._keys_on_the_way.handed(message)
        return super()._post_message(message)

    def post_message(self, message: Message) -> bool:
        if not (isinstance(message, events.Key) and not message.is_forwarded):
            return super().post_message(message)
        self._keys_on_the_way.handed(message)
        posted = super().post_message(message)
        if not posted:
            self._keys_on_the_way.arrived(message)
        return posted

    async def on_event(self, event: events.Event) -> None:
        # Before bindings and before the focused widget: a scanner burst must never reach them.
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._keys_on_the_way.arrived(event)
            self.station.people.touch()
            for key in self.capture.feed(event):
                await self._replay(key)
            self._untype()
            self._arm_flush()
            return
        if (
            isinstance(event, events.Paste)
            and not event.is_forwarded
            and self.screen is self.station
        ):
            self.station.intake.submit_lines(event.text, "paste")
            return
        await super().on_event(event)

    def _arm_flush(self) -> None:
        if self.capture.pending:
            self._flush_timer.resume()
        else:
            self._flush_timer.pause()

    def _wedge_tick(self) -> None:
        deadline = self.capture.deadline()
        if deadline is None:
            self._flush_timer.pause()
            return
        now = get_time()
        if now < deadline or self._flush_posted:
            return
        # A key stamped before now but not fed yet breaks the silence: it comes first.
        if self._keys_on_the_way.stamped_before(now, now):
            return
        # Keys still in the terminal (its reader thread not run yet) break the silence.
        fd = getattr(self._driver, "fileno", None)
        if now < deadline + UNREAD_WAIT_S and terminal_has_unread(fd):
            return
        self._flush_posted = True
        self.post_message(FlushDue())

    async def on_flush_due(self, message: FlushDue) -> None:
        """Settle the silence up to the timer's time, unless a key stamped before that time
        was handed to the app meanwhile (the reader thread read it before the timer fired;
        the loop delivers it after this message): then the silence was not one. The key is
        fed next, and the detector decides from its stamp."""
        self._flush_posted = False
        if not self._keys_on_the_way.stamped_before(message.time, get_time()):
            for key in self.capture.flush(message.time):
                await self._replay(key)
            self._untype()
        self._arm_flush()

    async def _replay(self, key: events.Key) -> None:
        """A person's key goes on as if never held. Keys of a burst that was not read as a scan
        go on only into a text field: elsewhere they would be commands (`/` would take the
        focus and type the rest of the burst into the manual field, `c` open a comment), and
        the "Not a scan" message names them instead."""
        focused = self.focused
        if self.capture.in_burst(key) and not isinstance(focused, Input):
            return
        self._typed = (key, focused) if isinstance(focused, Input) else None
        if self._typed is None and key.key in self.active_bindings:
            # `a` acknowledging, `c` commenting: a command acts for good, so a scan that
            # follows within the terminal's hold must not take its key as a first character.
            self.capture.acted(key)
        await super().on_event(key)

    def _untype(self) -> None:
        """A key replayed into a field was a scan's first key after all: it leaves the field
        once the field has taken it (its queue runs in order). Outside a field, a key no binding
        took did nothing to undo (a bound one is never taken back: `_replay`)."""
        for key in self.capture.taken_back():
            if self._typed is not None and self._typed[0] is key and key.character:
                field = self._typed[1]
                field.call_later(untype, field, key.character)
            self._typed = None

    def _wedge_scan(self, payload: str, key_time: float) -> None:
        self.station.intake.submit(payload, "wedge", key_time=key_time)

    def _wedge_burst(self, burst: Burst) -> None:
        self.post_message(BurstNotRead(burst, burst_sentence(burst, self.settings.scanner)))

    def on_burst_not_read(self, message: BurstNotRead) -> None:
        # Keys handed back into a text field were seen there; anywhere else they did nothing.
        if not isinstance(self.focused, Input):
            self.notify(
                message.sentence, title="Not a scan", severity="warning", timeout=10, markup=False
            )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        if self.kiosk:
            return
        yield from super().get_system_commands(screen)
        if screen is self.station:
            yield from palette_commands(self.station)

    # -- memory -------------------------------------------------------------------------------

    def _tune_memory(self) -> None:
        """The database is open. A full garbage collection walks every object Textual keeps
        (100+ ms here): a scan that lands on one waits that long. Objects alive now live as
        long as the app, so they are moved out of the collector's sight; `_tidy_memory`
        repeats it when idle."""
        gc.collect()
        gc.freeze()
        first, second, _ = gc.get_threshold()
        gc.set_threshold(first, second, GC_FULL_EVERY)
        self._gc_tuned = True

    def _tidy_memory(self) -> None:
        """While nobody scans: a full collection of everything, frozen objects included (a
        widget frozen while alive and dropped later would otherwise never be reclaimed),
        then freeze what survives, so the collections during scanning stay small."""
        if (
            self._gc_tuned
            and get_time() - self.station.idle_since >= TIDY_IDLE_S
            and not self.capture.pending
        ):
            gc.unfreeze()
            gc.collect()
            gc.freeze()
