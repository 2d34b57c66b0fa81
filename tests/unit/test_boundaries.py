"""The architecture's boundaries are checked, not hoped for (contracts in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports")
    if lint_imports is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout
    # Issue 11: the station app and the command line reach data only through the Station door.
    assert "Faces never import the store KEPT" in result.stdout


def test_nothing_outside_the_service_reaches_its_repository() -> None:
    """`service.repo` is the service's own: faces and the door use what the service offers."""
    import ast

    reached = []
    for path in sorted((ROOT / "scanstation").rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if path.name == "service.py" or {"store", "service"} & set(parts[:-1]):
            continue  # the service (a module, or the package it became) and the store
        tree = ast.parse(path.read_text(encoding="utf-8"))
        reached += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "repo"
        ]
    assert reached == []


def test_importing_the_domain_pulls_in_nothing_heavy() -> None:
    code = (
        "import sys, scanstation.domain.codes, scanstation.domain.stages, "
        "scanstation.domain.outcome\n"
        "heavy = {'textual', 'rich', 'peewee', 'cv2', 'numpy'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_domain_is_strictly_typed() -> None:
    mypy = shutil.which("mypy")
    if mypy is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [mypy, "--strict", "--no-incremental", "scanstation/domain"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_is_ruff_clean() -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [ruff, "check", "."], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_faces_load_the_database_only_when_it_is_opened() -> None:
    """The station paints before the store loads, and `scanstation --help` or `decode` never
    load it: the door (and Peewee behind it) is imported where the database is opened. Nor
    does its first frame wait for what only some commands or some scans need: PDF labels
    (fpdf, Pillow), QR signing (cryptography, numpy), GS1 reading (biip), image decoding
    (OpenCV, zxing-cpp, pyzbar) — each loads when first used."""
    code = (
        "import sys, scanstation.cli, scanstation.tui.app, scanstation.tui.launch\n"
        "heavy = {'peewee', 'psycopg2', 'cv2', 'scanstation.store', 'scanstation.service',\n"
        "         'scanstation.station', 'fpdf', 'PIL', 'cryptography', 'numpy', 'biip',\n"
        "         'zxingcpp', 'pyzbar'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
