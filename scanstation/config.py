"""config.toml and SCANSTATION_* environment variables → typed, validated settings.

Lookup: `--config PATH`, then `$SCANSTATION_CONFIG`, then `config.toml` in the user config dir,
else the built-in defaults (the same values as the repository's documented `config.toml`).
Any environment variable `SCANSTATION_<SECTION>_<KEY>` overrides one scalar key, e.g.
`SCANSTATION_DATABASE_URL`. An unknown key, a wrong type or a bad value is a `ConfigError`
naming the file (or variable), the key and what was expected; so is an unknown `SCANSTATION_*`
variable (a misspelt `SCANSTATION_DATABSE_URL` must not quietly open the default database).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import msgspec
from platformdirs import user_config_dir, user_data_dir

APP_NAME = "scanstation"
ENV_PREFIX = "SCANSTATION_"

# SCANSTATION_* variables that are not `<SECTION>_<KEY>` overrides.
OTHER_VARIABLES = frozenset(
    f"{ENV_PREFIX}{name}" for name in ("CONFIG", "PIN", "TOKEN", "TEST_PG_URL")
)

ModeName = Literal["lookup", "register", "validate", "reject", "dispatch", "receive", "scrap"]
MODE_NAMES: tuple[str, ...] = get_args(ModeName)


class ConfigError(Exception):
    """A configuration problem: exit code 2 on the command line."""


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class DatabaseSettings(_Section):
    # Empty: the embedded SQLite file in the user data dir.
    url: str = ""

    def resolved_url(self) -> str:
        return self.url or f"sqlite:///{default_database_path()}"


class StationSettings(_Section):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "STATION-1"
    site: str = ""
    mode: ModeName = "lookup"
    operator: str = ""
    document: str = ""
    journal: bool = False
    # A locked station for passers-by: no palette, no quitting or suspending from the keyboard.
    kiosk: bool = False
    # The modes the picker offers; empty: every mode of the site.
    allowed_modes: list[ModeName] = msgspec.field(default_factory=list)
    # How long a worker may void their own last scan (seconds).
    void_window_s: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 60.0
    # With users: sign out after this many minutes without a scan or a key; 0: never.
    idle_signout_min: Annotated[float, msgspec.Meta(ge=0, le=1440)] = 15.0

    def __post_init__(self) -> None:
        if len(set(self.allowed_modes)) != len(self.allowed_modes):
            raise ValueError("allowed_modes names a mode twice")
        if self.allowed_modes and self.mode not in self.allowed_modes:
            raise ValueError(
                f"mode {self.mode!r} is not one of allowed_modes "
                f"({', '.join(self.allowed_modes)}): set mode to one of them"
            )

    def mode_allowed(self, mode: str) -> bool:
        return not self.allowed_modes or mode in self.allowed_modes


# [scanner] preset → (burst_end_ms, max_median_gap_ms, split_gap_ms): how the keyboard-wedge
# detector times a scanner (split_gap_ms: the shortest gap that may part a person's key from a
# scan, not a config key). USB HID scanners type a key every 1–10 ms. Bluetooth HID scanners
# send keys 20–60 ms apart, often several at once, and may stall ~200 ms mid-code; a person
# typing fast (80–100 ms a key, then Enter) may then be read as a scan, so "usb" stays the
# default.
SCANNER_PRESETS: dict[str, tuple[float, float, float]] = {
    "usb": (100.0, 50.0, 20.0),
    "bluetooth": (300.0, 80.0, 70.0),
}


class ScannerSettings(_Section):
    """The keyboard-wedge scanner. `preset` fills `burst_end_ms` and `max_median_gap_ms`; either
    one set explicitly overrides the preset's value (so older files that set both keep working).
    """

    preset: Literal["usb", "bluetooth"] = "usb"
    burst_end_ms: Annotated[float, msgspec.Meta(gt=0, le=2000)] | None = None
    max_median_gap_ms: Annotated[float, msgspec.Meta(gt=0, le=1000)] | None = None
    min_length: Annotated[int, msgspec.Meta(ge=1, le=100)] = 4
    # Short: the detector matches it key by key.
    prefix: Annotated[str, msgspec.Meta(max_length=16)] = ""
    suffixes: list[Literal["enter", "tab", "ctrl+j"]] = msgspec.field(
        default_factory=lambda: ["enter", "tab", "ctrl+j"]
    )
    serial_case: Literal["upper", "preserve"] = "upper"
    max_payload: Annotated[int, msgspec.Meta(ge=8, le=100_000)] = 512

    def __post_init__(self) -> None:
        burst_end_ms, max_median_gap_ms, _ = SCANNER_PRESETS[self.preset]
        if self.burst_end_ms is None:
            self.burst_end_ms = burst_end_ms
        if self.max_median_gap_ms is None:
            self.max_median_gap_ms = max_median_gap_ms

    def timing(self) -> tuple[float, float, float]:
        """(burst_end_ms, max_median_gap_ms, split_gap_ms) in force: the keys set here, else
        the preset's; the split never exceeds the median gap."""
        burst_end_ms, max_median_gap_ms, split_gap_ms = SCANNER_PRESETS[self.preset]
        if self.burst_end_ms is not None:
            burst_end_ms = self.burst_end_ms
        if self.max_median_gap_ms is not None:
            max_median_gap_ms = self.max_median_gap_ms
        return burst_end_ms, max_median_gap_ms, min(split_gap_ms, max_median_gap_ms)


class FeedbackSettings(_Section):
    bell: bool = True
    bells_ok: Annotated[int, msgspec.Meta(ge=0, le=5)] = 1
    bells_already: Annotated[int, msgspec.Meta(ge=0, le=5)] = 2
    bells_error: Annotated[int, msgspec.Meta(ge=0, le=5)] = 3
    bells_lookup: Annotated[int, msgspec.Meta(ge=0, le=5)] = 0
    stale_after_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 10.0
    hold_error_s: Annotated[float, msgspec.Meta(ge=0, le=600)] = 3.0


class UISettings(_Section):
    portlets: list[
        Literal["scanned", "serial_detail", "item_detail", "invoice", "activity", "camera"]
    ] = msgspec.field(
        default_factory=lambda: ["scanned", "serial_detail", "item_detail", "invoice", "activity"]
    )
    scanned_rows: Annotated[int, msgspec.Meta(ge=10, le=5000)] = 200
    theme: str = "textual-dark"


class CameraSettings(_Section):
    source: str = "0"
    decoder: Literal["auto", "zxing", "pyzbar"] = "auto"
    formats: list[str] = msgspec.field(default_factory=list)


class SecuritySettings(_Section):
    # After 5 wrong PINs in a row a user is locked this many seconds (on every terminal).
    lockout_s: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 300


class KeysSettings(_Section):
    # Empty: signing-key.pem in the user data dir (a file of this user only, mode 0600).
    private_key: str = ""
    # Empty: beside the private key, as signing-key.pub.pem.
    public_key: str = ""

    def private_path(self) -> Path:
        if self.private_key:
            return Path(self.private_key).expanduser()
        return Path(user_data_dir(APP_NAME, appauthor=False)) / "signing-key.pem"

    def public_path(self) -> Path:
        if self.public_key:
            return Path(self.public_key).expanduser()
        private = self.private_path()
        return private.with_name(f"{private.name.removesuffix('.pem')}.pub.pem")


LabelPart = Literal["name", "serial", "datamatrix", "qr"]


class LabelTemplateSettings(_Section):
    width_mm: Annotated[float, msgspec.Meta(ge=20, le=300)]
    height_mm: Annotated[float, msgspec.Meta(ge=15, le=300)]
    parts: list[LabelPart] = msgspec.field(
        default_factory=lambda: ["name", "serial", "datamatrix", "qr"]
    )


BUILT_IN_TEMPLATES: dict[str, LabelTemplateSettings] = {
    "standard": LabelTemplateSettings(width_mm=100, height_mm=50),
    "small": LabelTemplateSettings(width_mm=75, height_mm=35, parts=["serial", "qr"]),
}


class LabelSettings(_Section):
    # The template `labels` uses without --template: a built-in one or one of `templates`.
    template: str = "standard"
    dpi: Literal[203, 300] = 203
    paper: Literal["a4", "4x6"] = "a4"
    # The station's print format (the command line names it with --format).
    format: Literal["zpl", "pdf"] = "zpl"
    # Where `labels` and the station print without --printer: tcp://HOST:9100 or a CUPS queue.
    printer: str = ""
    printer_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0
    templates: dict[str, LabelTemplateSettings] = msgspec.field(default_factory=dict)

    def all_templates(self) -> dict[str, LabelTemplateSettings]:
        """The built-in templates, and this file's (which may redefine them)."""
        return {**BUILT_IN_TEMPLATES, **self.templates}


class Settings(_Section):
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    station: StationSettings = msgspec.field(default_factory=StationSettings)
    scanner: ScannerSettings = msgspec.field(default_factory=ScannerSettings)
    feedback: FeedbackSettings = msgspec.field(default_factory=FeedbackSettings)
    ui: UISettings = msgspec.field(default_factory=UISettings)
    camera: CameraSettings = msgspec.field(default_factory=CameraSettings)
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)
    keys: KeysSettings = msgspec.field(default_factory=KeysSettings)
    labels: LabelSettings = msgspec.field(default_factory=LabelSettings)
    source: str = "built-in defaults"  # where the settings came from, for messages


def default_database_path() -> Path:
    return Path(user_data_dir(APP_NAME, appauthor=False)) / "scanstation.db"


def user_config_path() -> Path:
    return Path(user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def _allowed_values(key: str) -> tuple[str, ...]:
    """The Literal choices of a key such as `ui.portlets[1]`, for the error message."""
    owner: Any = Settings
    annotation: Any = None
    for part in re.sub(r"\[\d+\]", "", key).split("."):
        hints = get_type_hints(owner, include_extras=True) if isinstance(owner, type) else {}
        annotation = hints.get(part)
        owner = annotation
    while get_origin(annotation) in (list, Annotated):
        annotation = get_args(annotation)[0]
    return tuple(str(v) for v in get_args(annotation)) if get_origin(annotation) is Literal else ()


def _explain(error: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec says 'Expected `int`, got `str` - at `$.scanner.min_length`': split it."""
    text = str(error)
    what, _, where = text.partition(" - at `")
    key = where.rstrip("`").removeprefix("$").lstrip(".")
    if what.startswith("Object contains unknown field `"):
        field = what.removeprefix("Object contains unknown field `").rstrip("`")
        key = f"{key}.{field}" if key else field
        what = "unknown key (check the spelling against the documented config.toml)"
    elif what.startswith("Invalid enum value"):
        allowed = _allowed_values(key)
        if allowed:
            what = f"{what}: expected one of {', '.join(allowed)}"
    return key or "(top level)", what


def override_variables() -> dict[str, tuple[str, str]]:
    """Every `SCANSTATION_<SECTION>_<KEY>` there is → (section, key)."""
    variables: dict[str, tuple[str, str]] = {}
    for section, section_type in get_type_hints(Settings).items():
        if section == "source":
            continue
        for key in get_type_hints(section_type):
            variables[f"{ENV_PREFIX}{section}_{key}".upper()] = (section, key)
    return variables


def _env_overrides(environ: dict[str, str], raw: dict[str, Any]) -> list[str]:
    """Apply SCANSTATION_<SECTION>_<KEY>=value to `raw`; returns the variables applied.
    Any other SCANSTATION_* variable is a ConfigError naming it."""
    applied: list[str] = []
    known = override_variables()
    for variable, value in sorted(environ.items()):
        if not variable.startswith(ENV_PREFIX) or variable in OTHER_VARIABLES:
            continue
        if variable not in known:
            close = difflib.get_close_matches(variable, [*known, *OTHER_VARIABLES], 1, 0.85)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(
                f"{variable}: unknown environment variable{hint}; scanstation reads "
                f"{ENV_PREFIX}<SECTION>_<KEY> for the keys of config.toml and "
                + ", ".join(sorted(OTHER_VARIABLES))
            )
        section, key = known[variable]
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            continue
        raw[section][key] = _from_env(value)
        applied.append(variable)
    return applied


def _from_env(value: str) -> Any:
    """Environment values are text; read the obvious scalars and lists as TOML would."""
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def find_config_file(explicit: str | Path | None, environ: dict[str, str]) -> Path | None:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"Config file {path} does not exist")
        return path
    from_env = environ.get(f"{ENV_PREFIX}CONFIG")
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise ConfigError(f"Config file {path} (from {ENV_PREFIX}CONFIG) does not exist")
        return path
    path = user_config_path()
    return path if path.is_file() else None


def load_settings(
    explicit: str | Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    path = find_config_file(explicit, environ)
    raw: dict[str, Any] = {}
    origin = "built-in defaults"
    if path is not None:
        origin = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from error
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot be read: {error}") from error
    try:
        msgspec.convert(raw, Settings)
    except msgspec.ValidationError as error:
        key, what = _explain(error)
        raise ConfigError(f"{origin}: key {key}: {what}") from error
    applied = _env_overrides(environ, raw)
    try:
        settings = msgspec.convert(raw, Settings)
    except msgspec.ValidationError as error:
        key, what = _explain(error)
        variable = f"{ENV_PREFIX}{key.replace('.', '_').upper()}"
        where = variable if variable in applied else origin
        raise ConfigError(f"{where}: key {key}: {what}") from error
    return msgspec.structs.replace(settings, source=origin)
