"""Whether the station's scans reach the database: what the header's database part says.

"db ok (sqlite)"; "db NOT SAVED · 2 waiting" while a scan the database refused is retried;
with the offline journal, "db OFFLINE · 3 saved here", "db ok · sending 3 saved" and the
count of replayed scans the rules refused.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DatabaseStatus"]


@dataclass
class DatabaseStatus:
    journal_enabled: bool
    backend: str = "sqlite"
    state: str = "opening"  # a header DB_STYLES key
    text: str = "db opening…"
    not_saved_ticket: int | None = None  # the scan being retried, if any
    journal_online: bool = True
    journal_pending: int = 0  # scans saved on this terminal, not yet in the database
    journal_refused: int = 0

    def opened(self, backend: str) -> None:
        self.backend = backend
        self._settle()

    def offline_start(self, backend: str | None) -> None:
        """The station started with its site database unreachable (journal)."""
        if backend:
            self.backend = backend
        self.journal_online = False
        self._settle()

    def not_saved(self, ticket: int, waiting: int) -> bool:
        """A scan was refused by the database; True the first time for this scan."""
        first = self.not_saved_ticket != ticket
        self.not_saved_ticket = ticket
        self.state, self.text = "not_saved", f"db NOT SAVED · {waiting} waiting"
        return first

    def answered(self, ticket: int) -> None:
        """A scan was answered; the one being retried, if it was that one, is saved."""
        if self.not_saved_ticket == ticket:
            self.not_saved_ticket = None

    def scans_shown(self) -> None:
        if self.not_saved_ticket is None:
            self._settle()

    def failed(self) -> None:
        self.state, self.text = "failed", "db error"

    def journal(self, *, online: bool, pending: int, refused: int) -> bool:
        """The journal's state; True when the database has just come back."""
        back = online and not self.journal_online
        self.journal_online, self.journal_pending, self.journal_refused = online, pending, refused
        if self.not_saved_ticket is None:
            self._settle()
        return back

    def _settle(self) -> None:
        ok = f"db ok ({self.backend})"
        if not self.journal_enabled:
            self.state, self.text = "ok", ok
            return
        refused = f" · {self.journal_refused} refused (^r)" if self.journal_refused else ""
        if not self.journal_online:
            self.state = "offline"
            self.text = f"db OFFLINE · {self.journal_pending} saved here{refused}"
        elif self.journal_pending:
            self.state = "offline"
            self.text = f"db ok · sending {self.journal_pending} saved{refused}"
        else:
            self.state, self.text = ("offline" if refused else "ok"), ok + refused
