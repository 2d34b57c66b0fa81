"""The conftest hook that searches every test's captured output for registered secrets."""

from __future__ import annotations

from tests.conftest import leaked


def test_a_secret_in_captured_output_is_found() -> None:
    sections = [("Captured stdout call", "ok\n"), ("Captured log call", "pin 551204987613")]
    assert leaked(sections, {"551204987613"}) == ["Captured log call"]
    assert leaked(sections[:1], {"551204987613"}) == []
