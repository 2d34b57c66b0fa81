"""config.toml: the documented defaults, the lookup order, and errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from scanstation.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_config_is_the_built_in_default() -> None:
    documented = load_settings(ROOT / "config.toml", environ={})
    built_in = load_settings(environ={})
    strip = {"source": ""}
    assert msgspec.structs.replace(documented, **strip) == msgspec.structs.replace(
        built_in, **strip
    )


def test_every_documented_key_has_a_comment() -> None:
    lines = (ROOT / "config.toml").read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            assert lines[index - 1].lstrip().startswith("#"), f"no comment above: {line}"


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[station]\nsite_code = 'G1'\n", "station.site_code", "unknown key"),
        ("[scanner]\nmin_length = 'four'\n", "scanner.min_length", "Expected `int`"),
        ("[scanner]\nburst_end_ms = -5\n", "scanner.burst_end_ms", ">"),
        ("[station]\nmode = 'teleport'\n", "station.mode", "one of"),
        ("[ui]\nportlets = ['scanned', 'radar']\n", "ui.portlets", "one of"),
        ("[databse]\nurl = ''\n", "databse", "unknown key"),
        ("[station]\nallowed_modes = ['recieve']\n", "station.allowed_modes[0]", "receive"),
        ("[station]\nallowed_modes = ['receive']\n", "station", "mode 'lookup' is not one of"),
        (
            "[station]\nmode = 'receive'\nallowed_modes = ['receive', 'receive']\n",
            "station",
            "names a mode twice",
        ),
        ("[station]\nkiosk = 'yes'\n", "station.kiosk", "Expected `bool`"),
    ],
)
def test_a_bad_key_names_file_key_and_expectation(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert str(path) in message and f"key {key}" in message and words in message


def test_lookup_order_flag_then_env_then_user_dir(tmp_path: Path, monkeypatch) -> None:
    flag = tmp_path / "flag.toml"
    flag.write_text("[station]\nid = 'FROM-FLAG'\n", encoding="utf-8")
    env = tmp_path / "env.toml"
    env.write_text("[station]\nid = 'FROM-ENV'\n", encoding="utf-8")
    user = tmp_path / "config" / "scanstation" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[station]\nid = 'FROM-USER'\n", encoding="utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    environ = {"SCANSTATION_CONFIG": str(env)}
    assert load_settings(flag, environ=environ).station.id == "FROM-FLAG"
    assert load_settings(None, environ=environ).station.id == "FROM-ENV"
    assert load_settings(None, environ={}).station.id == "FROM-USER"


def test_environment_overrides_and_their_errors(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "SCANSTATION_DATABASE_URL": "postgresql://x@h/db",
            "SCANSTATION_SCANNER_MIN_LENGTH": "6",
            "SCANSTATION_FEEDBACK_BELL": "false",
        }
    )
    assert settings.database.url == "postgresql://x@h/db"
    assert settings.scanner.min_length == 6 and settings.feedback.bell is False
    with pytest.raises(
        ConfigError, match=r"SCANSTATION_SCANNER_MIN_LENGTH: key scanner\.min_length"
    ):
        load_settings(environ={"SCANSTATION_SCANNER_MIN_LENGTH": "many"})


def test_missing_or_broken_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[station\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, environ={})


def test_defaults_are_typed() -> None:
    assert isinstance(Settings().scanner.burst_end_ms, float)


def test_an_unknown_scanstation_variable_is_an_error_naming_it() -> None:
    """Issue 11, finding 13: a misspelt SCANSTATION_DATABSE_URL was silently ignored, and
    the station opened the local default database instead of the site's."""
    with pytest.raises(
        ConfigError,
        match=r"^SCANSTATION_DATABSE_URL: unknown environment variable "
        r"\(did you mean SCANSTATION_DATABASE_URL\?\)",
    ):
        load_settings(environ={"SCANSTATION_DATABSE_URL": "postgresql://x@h/db"})
    with pytest.raises(ConfigError, match=r"^SCANSTATION_NOPE: unknown environment variable;"):
        load_settings(environ={"SCANSTATION_NOPE": "1"})
    # A known section with an unknown key is no less unknown.
    with pytest.raises(ConfigError, match="SCANSTATION_STATION_COLOUR: unknown"):
        load_settings(environ={"SCANSTATION_STATION_COLOUR": "red"})
    # The variables that are not config keys are known; other programs' variables are not ours.
    known = {
        "SCANSTATION_CONFIG": "",
        "SCANSTATION_PIN": "1234",
        "SCANSTATION_TOKEN": "t",
        "SCANSTATION_TEST_PG_URL": "postgresql://x@h/db",
        "SCANSTATIONX": "1",
        "PATH": "/bin",
    }
    assert load_settings(environ=known).database.url == ""


def test_a_kiosk_from_the_environment(tmp_path: Path) -> None:
    """`scanstation kiosk` turns the kiosk on for its station this way."""
    settings = load_settings(environ={"SCANSTATION_STATION_KIOSK": "true"})
    assert settings.station.kiosk is True
    assert settings.station.mode_allowed("scrap")  # no allowed_modes: every mode
