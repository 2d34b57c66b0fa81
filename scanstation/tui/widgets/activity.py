"""The Activity Log portlet: who made and last touched the shown serial, its comments and the
time-line of its events, newest first. Adding a comment is asked of the station
(`ActivityLog.CommentRequested`): this widget never writes."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import Resize
from textual.message import Message
from textual.widgets import Button, Static

from scanstation.domain.model import EventView, SerialView
from scanstation.domain.outcome import OutcomeKind
from scanstation.domain.stages import stage_label
from scanstation.tui.widgets.portlet import (
    DATE_TIME,
    MUTED,
    SHORT_TIME,
    STAGE_STYLES,
    Cell,
    Column,
    FieldGrid,
    Portlet,
    RowTable,
    as_utc,
    data_text,
    local_time,
    section_title,
    stage_abbreviation,
    stage_text,
    update_static,
)

if TYPE_CHECKING:
    from scanstation.tui.messages import DetailsLoaded

__all__ = ["ActivityLog"]

FIELDS: tuple[tuple[str, str], ...] = (
    ("stage", "Status"),
    ("created_at", "Created Date"),
    ("created_by", "Created By"),
    ("updated_at", "Last Updated Date"),
    ("updated_by", "Last Updated By"),
)

MAX_EVENTS = 50
"""Time-line rows shown, newest first; older events are counted, not drawn."""
MAX_COMMENTS = 20
MAX_NOTES = 5  # station notes kept (the log file has them all)
FULL_NAMES_WIDTH = 96
"""From this width the time-line names stages in full ("Validated at Plant → ...")."""

OUTCOME_STYLES: dict[str, str] = {
    OutcomeKind.REJECTED: "bold $text-error",
    OutcomeKind.UNKNOWN: "bold $text-error",
    OutcomeKind.CONFLICT: "bold $text-error",
    OutcomeKind.NOT_GENUINE: "bold $text-error",
    OutcomeKind.ALREADY: "bold $text-warning",
    OutcomeKind.QUEUED: MUTED,
}


class ActivityLog(Portlet):
    """Status, Created Date/By, Last Updated Date/By, the comments and the time-line of the
    shown serial's events (local time, operator, station, from→to or the refusal, document).
    `c` (or the button) asks the station for a comment on the shown serial."""

    PORTLET_ID: ClassVar[str] = "activity"
    TITLE: ClassVar[str] = "Activity Log"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "add_comment", "Comment", tooltip="Add a comment to the shown serial"),
    ]

    DEFAULT_CSS = """
    ActivityLog {
        .activity--comments-head {
            height: auto;
            margin-top: 1;
            & > .portlet--section {
                margin-top: 0;
                width: 1fr;
            }
            & > Button {
                width: auto;
                min-width: 0;
            }
        }
        #activity-comments {
            width: 1fr;
        }
        #activity-notes {
            display: none;
            height: auto;
            margin-top: 1;
            color: $text-warning;
            &.-shown {
                display: block;
            }
        }
    }
    """

    @dataclass(eq=False)
    class CommentRequested(Message):
        """The user asked to add a comment to `serial_no`; the station prompts and saves it."""

        serial_no: str

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.serial: SerialView | None = None
        self.events: tuple[EventView, ...] = ()
        self._fields = FieldGrid(FIELDS)
        self._comments_title = Static(classes="portlet--section")
        self._comments = Static(id="activity-comments")
        self._timeline_title = Static(classes="portlet--section")
        self._timeline = RowTable(
            (
                Column(),  # local time
                Column(max_width=12),  # operator
                Column(max_width=12, drop=2),  # station
                Column(),  # from→to, or the refusal
                Column(min_width=4, max_width=16, flex=1, drop=1),  # document
            ),
            empty="No events",
            id="activity-timeline",
        )
        self._newest: list[EventView] = []
        self._full_names = False  # full stage names in the timeline, once it is wide enough
        self._notes: deque[Content] = deque(maxlen=MAX_NOTES)
        self._notes_view = Static(id="activity-notes")
        self.set_shown(False)

    def compose(self) -> ComposeResult:
        yield self.placeholder("Scan a serial to see its activity")
        with Vertical(classes="portlet--body"):
            yield self._fields
            with Horizontal(classes="activity--comments-head"):
                yield self._comments_title
                yield Button(Content("Add comment (c)"), compact=True, id="activity-add-comment")
            yield self._comments
            yield self._timeline_title
            yield self._timeline
        yield self._notes_view

    def show_details(self, details: DetailsLoaded) -> None:
        self.show(details.serial, details.events)

    def show(self, serial: SerialView | None, events: Sequence[EventView]) -> None:
        """Show `serial` and its `events` (any order; drawn newest first), or the placeholder
        for None."""
        events = tuple(events)
        if serial is not None and serial == self.serial and events == self.events:
            return
        self.serial, self.events = serial, events
        self.set_shown(serial is not None)
        if self.is_attached:  # a late answer may arrive as the app tears the screen down
            self.refresh_bindings()
        if serial is None:
            self.border_subtitle = None
            return
        self.border_subtitle = data_text(serial.serial_no)
        fields = self._fields
        fields.set("stage", stage_text(serial.stage, dot=True))
        fields.set("created_at", Content(local_time(serial.created_at, DATE_TIME)))
        fields.set("created_by", data_text(serial.created_by))
        fields.set("updated_at", Content(local_time(serial.updated_at, DATE_TIME)))
        fields.set("updated_by", data_text(serial.updated_by))

        # The store gives events oldest first; a stable sort on the reversed list keeps the
        # later of two events with the same time on top.
        newest = sorted(reversed(events), key=lambda event: as_utc(event.at), reverse=True)
        comments = [event for event in newest if event.comment]
        comments_note = _count_note(len(comments), 0)
        update_static(self._comments_title, section_title("Comments", comments_note))
        update_static(self._comments, _comments_text(comments[:MAX_COMMENTS]))

        update_static(
            self._timeline_title,
            section_title("Time-Line", _count_note(len(newest), MAX_EVENTS, "event")),
        )
        self._newest = newest[:MAX_EVENTS]
        self._draw_timeline()

    def _draw_timeline(self) -> None:
        full = self._full_names
        self._timeline.set_rows(_timeline_row(event, full) for event in self._newest)

    def on_resize(self, event: Resize) -> None:
        super().on_resize(event)
        full = event.size.width >= FULL_NAMES_WIDTH
        if full != self._full_names:
            self._full_names = full
            self._draw_timeline()

    def note(self, text: str, at: datetime) -> None:
        """A station note (e.g. why a scan was not saved), newest first under the log."""
        self._notes.appendleft(
            Content.assemble((local_time(at, SHORT_TIME), MUTED), "  ", data_text(text))
        )
        self._notes_view.update(Content("\n").join([section_title("Station notes"), *self._notes]))
        self._notes_view.add_class("-shown")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add_comment":
            return True if self.serial is not None else None
        return True

    def action_add_comment(self) -> None:
        if self.serial is not None:
            self.post_message(self.CommentRequested(self.serial.serial_no))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "activity-add-comment":
            event.stop()
            self.action_add_comment()

    def field(self, key: str) -> Content:
        """What a field shows now (for tests and the app's own checks)."""
        return self._fields.value(key)


def _count_note(count: int, limit: int, noun: str = "") -> str:
    if limit and count > limit:
        return f"newest {limit} of {count:,}"
    if not noun:
        return f"{count:,}" if count else ""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _comments_text(comments: Sequence[EventView]) -> Content:
    if not comments:
        return Content.styled("No comments yet", MUTED)
    lines = [
        Content.assemble(
            (local_time(event.at, SHORT_TIME), MUTED),
            " ",
            data_text(event.by, "bold"),
            "  ",
            data_text(event.comment),
        )
        for event in comments
    ]
    return Content("\n").join(lines)


def _change(event: EventView, full: bool) -> Content:
    """What the event did: "Validated at Plant → Dispatch from Plant" (`full`) or "VP→DFP",
    the refusal ("REJECTED"), or "comment"."""
    if event.outcome != OutcomeKind.OK:
        return data_text(event.outcome.upper(), OUTCOME_STYLES.get(event.outcome, "bold"))
    if event.to_stage is None:
        return Content.styled("comment" if event.comment else "note", f"italic {MUTED}")
    before = stage_label(event.from_stage) if full else stage_abbreviation(event.from_stage)
    after = stage_label(event.to_stage) if full else stage_abbreviation(event.to_stage)
    return Content.assemble(
        (before, MUTED),
        (" → " if full else "→", MUTED),
        (after, STAGE_STYLES[event.to_stage]),
    )


def _timeline_row(event: EventView, full: bool) -> tuple[Cell, ...]:
    return (
        Content.styled(local_time(event.at, SHORT_TIME), MUTED),
        data_text(event.by),
        data_text(event.station, MUTED),
        _change(event, full),
        data_text(event.document, placeholder=""),
    )
