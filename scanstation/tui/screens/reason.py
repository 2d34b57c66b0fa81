"""Asks why: reject, scrap, a receive override, closing a document with a shortfall."""

from __future__ import annotations

from scanstation.tui.screens.prompt import TextPrompt

__all__ = ["ReasonPrompt"]


class ReasonPrompt(TextPrompt):
    """The reason is recorded with every event it allows."""

    def __init__(self, title: str, note: str = "", *, value: str = "") -> None:
        super().__init__(
            title,
            note or "The reason is saved with the change, for the supervisor.",
            placeholder="reason, e.g. casing dent",
            value=value,
        )
