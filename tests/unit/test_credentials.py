"""PINs and tokens: shape checks, the stored hash, and what a wrong or odd input gives."""

from __future__ import annotations

import pytest

from scanstation.credentials import (
    DEFAULT_HASHER,
    hash_pin,
    looks_like_token,
    new_token,
    pin_problem,
    token_digest,
    verify_pin,
)


@pytest.mark.parametrize(
    ("pin", "problem"),
    [
        ("1234", None),
        ("123456789012", None),
        ("123", "a PIN has 4 to 12 digits"),
        ("1234567890123", "a PIN has 4 to 12 digits"),
        ("12a4", "a PIN is digits only"),
        ("١٢٣٤", "a PIN is digits only"),  # Arabic-Indic digits: isdigit() but not ASCII
        ("", "a PIN is digits only"),
    ],
)
def test_pin_shape(pin: str, problem: str | None) -> None:
    assert pin_problem(pin) == problem


def test_a_pin_is_stored_salted_and_memory_hard_and_checks() -> None:
    first, second = hash_pin("4711"), hash_pin("4711")
    assert first != second  # salted
    assert "4711" not in first
    assert first.startswith(f"scrypt${DEFAULT_HASHER.n},8,1$")
    assert DEFAULT_HASHER.memory >= 32 * 2**20
    assert verify_pin("4711", first)
    assert not verify_pin("4712", first)
    assert not verify_pin("47110", first)


def test_a_bad_pin_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError) as raised:
        hash_pin("98a7")
    assert "98a7" not in str(raised.value)


@pytest.mark.parametrize("stored", [None, "", "plain", "scrypt$3,8,1$AA$AA", "md5$1$x$y"])
def test_no_or_a_damaged_hash_never_matches(stored: str | None) -> None:
    assert verify_pin("1234", stored) is False


def test_tokens_are_random_and_stored_as_a_digest() -> None:
    token = new_token()
    assert looks_like_token(token) and token != new_token()
    digest = token_digest(token)
    assert len(digest) == 64 and token not in digest
    assert token_digest(token) == digest
    assert not looks_like_token("1234")
