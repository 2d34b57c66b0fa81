"""domain/quick.py: the values a scan makes are built by a faster __init__ that must take the
same arguments, apply the same defaults and factories, and leave them as frozen as before."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime

import pytest

from scanstation.domain.codes import CodeKind, ScanCode, parse
from scanstation.domain.model import ScanEvent, SerialView
from scanstation.domain.outcome import OutcomeKind, ScanOutcome
from scanstation.domain.quick import quick_init
from scanstation.domain.stages import Stage

QUICK = (ScanEvent, SerialView, ScanOutcome, ScanCode)


def _reference(cls: type) -> type:
    """The same fields as a plain frozen dataclass: what dataclass's own __init__ does."""
    specs = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            specs.append((f.name, f.type, field(default=f.default)))
        elif f.default_factory is not dataclasses.MISSING:
            specs.append((f.name, f.type, field(default_factory=f.default_factory)))
        else:
            specs.append((f.name, f.type))
    return dataclasses.make_dataclass(f"Reference{cls.__name__}", specs, frozen=True, slots=True)


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_the_quick_init_takes_what_dataclass_takes(cls: type) -> None:
    reference = _reference(cls)
    ours = inspect.signature(cls.__init__).parameters
    theirs = inspect.signature(reference.__init__).parameters
    assert list(ours) == list(theirs)
    for name, parameter in ours.items():
        default = theirs[name].default
        if type(default).__name__ == "_HAS_DEFAULT_FACTORY_CLASS":
            continue  # a factory: checked below by what an instance gets
        assert parameter.default == default, name
        assert parameter.kind == theirs[name].kind, name


def test_each_value_holds_what_it_was_given_by_position_or_keyword() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    values = (
        "SN1", "PUMP", "Pump", "08901234500019", "G-1", "QR", Stage.REGISTERED, "P1", None,
        at, "op", at, "op2", 3,
    )  # fmt: skip
    by_position = SerialView(*values)
    names = [f.name for f in dataclasses.fields(SerialView)]
    by_keyword = SerialView(**dict(zip(names, values, strict=False)))
    reference = _reference(SerialView)(*values)
    for view in (by_position, by_keyword):
        assert [getattr(view, n) for n in names] == [getattr(reference, n) for n in names]
        assert (view.print_count, view.printed_at) == (0, None)  # the defaults
    assert by_position == by_keyword and hash(by_position) == hash(by_keyword)
    assert dataclasses.replace(by_position, version=4).version == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_position.version = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        SerialView(*values[:-1])  # a field without a default is still required


def test_factories_make_a_new_value_for_each_instance_and_are_not_called_when_given() -> None:
    first, second = ScanEvent("SN1"), ScanEvent("SN1")
    assert first.scan_id != second.scan_id  # new_scan_id() for each
    assert first.read_at.tzinfo is UTC and first.source == "manual"
    given = ScanEvent("SN1", "test", "my-id", datetime(2026, 1, 1, tzinfo=UTC))
    assert (given.scan_id, given.read_at.year, given.source) == ("my-id", 2026, "test")
    outcome = ScanOutcome(OutcomeKind.OK, "fine", given)
    assert (outcome.serial, outcome.event_id, outcome.override_allowed) == (None, None, False)
    plain = ScanCode("sn-1", CodeKind.PLAIN, None, "sn-1", "SN-1", None, None, None, (), None)
    assert parse("sn-1") == plain


def test_what_it_cannot_make_exactly_is_refused() -> None:
    @dataclass(slots=True)
    class Plain:
        a: int

    @dataclass(frozen=True)
    class Keyword:
        a: int = field(kw_only=True)

    @dataclass(frozen=True)
    class Posted:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True)
    class Initvar:
        a: int
        b: InitVar[int]

    for cls in (Plain, Keyword, Posted, Initvar):
        with pytest.raises(TypeError):
            quick_init(cls)


def test_field_names_cannot_reach_its_own_names() -> None:
    # A field named like a generated name would read its own parameter instead of the
    # default or factory; such a field is refused, any other name is made exactly.
    @dataclass(frozen=True)
    class Shadows:
        _factories: int = 1

    with pytest.raises(TypeError):
        quick_init(Shadows)

    @dataclass(frozen=True)
    class Odd:
        _default_0: int = 7
        _factory_0: list[int] = field(default_factory=list)

    made = quick_init(Odd)()
    assert made == Odd(7, [])
    assert made._factory_0 == [] and made._default_0 == 7


def test_a_slot_is_set_by_its_own_setter_and_its_name_cannot_be_shadowed() -> None:
    # Slotted fields are set by their slot's setter, named `_slot_<n>`: a field of that name
    # is refused, and a frozen slotted class still refuses assignment after its __init__.
    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: int
        b: list[int] = field(default_factory=list)

    made = quick_init(Slotted)(1)
    assert made == Slotted(1, []) and made.b == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.a = 2  # type: ignore[misc]

    @dataclass(frozen=True, slots=True)
    class Shadows:
        _slot_0: int

    with pytest.raises(TypeError):
        quick_init(Shadows)
