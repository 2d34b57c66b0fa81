"""Asks for a comment on the shown serial (the Activity Log lists it)."""

from __future__ import annotations

from scanstation.tui.screens.prompt import TextPrompt

__all__ = ["CommentPrompt"]


class CommentPrompt(TextPrompt):
    def __init__(self, serial_no: str) -> None:
        super().__init__(
            f"Comment on {serial_no}",
            "Saved as an event of the serial, with your name and the time.",
            placeholder="comment",
        )
        self.serial_no = serial_no
