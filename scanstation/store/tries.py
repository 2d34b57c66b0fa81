"""What a retried write's tries met, for the caller to judge its answer by."""

from __future__ import annotations

__all__ = ["Tries"]


class Tries:
    """Filled in by `Repository.write`. `lost`: a try was cut off by a lost connection. On
    PostgreSQL that try may have committed before its answer came (a statement that commits by
    itself, or a COMMIT, reached the server and the connection dropped before the reply): a
    retry that finds its scan id recorded may be finding that very try's record."""

    __slots__ = ("lost",)

    def __init__(self) -> None:
        self.lost = False
