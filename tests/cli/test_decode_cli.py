"""`scanstation decode` through real processes: JSON lines, readable lines, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import zxingcpp

from scanstation.sources.decoders import pyzbar_available

KEYS = ["file", "text", "symbology", "format"]
GS1_TEXT = "010950600013435210LOT7\x1d21SN0042"


def run(*args: str, cwd: Path | None = None, prelude: str = "") -> subprocess.CompletedProcess[str]:
    if prelude:  # code to run before the command, e.g. to hide libzbar
        command = [
            sys.executable,
            "-c",
            f"{prelude}\nimport sys\nfrom scanstation.cli.decode import decode\n"
            "sys.argv[0] = 'scanstation decode'\ndecode()",
        ]
    else:
        command = [sys.executable, "-m", "scanstation.cli.decode"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def render(text: str, fmt: Any, *, gs1: bool = False, scale: int = 4) -> np.ndarray:
    barcode = zxingcpp.create_barcode(text, fmt, gs1=True) if gs1 else None
    barcode = barcode or zxingcpp.create_barcode(text, fmt)
    image = np.array(zxingcpp.write_barcode_to_image(barcode, scale=scale))
    return np.pad(image, 24, constant_values=255)


def write_video(path: Path, timeline: Sequence[str | None], fps: int = 10) -> None:
    size = (320, 240)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    for code in timeline:
        frame = np.full((size[1], size[0]), 190, np.uint8)
        if code:
            image = render(code, zxingcpp.BarcodeFormat.QRCode)
            frame[10 : 10 + image.shape[0], 40 : 40 + image.shape[1]] = image
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("decode")
    paths = {
        "gs1": folder / "unit label.png",  # a space: the path must come back exactly
        "two": folder / "two.jpg",
        "blank": folder / "blank.webp",
        "video": folder / "gate.avi",
        "text": folder / "notes.txt",
    }
    gs1 = render(
        "(01)09506000134352(10)LOT7(21)SN0042", zxingcpp.BarcodeFormat.DataMatrix, gs1=True
    )
    cv2.imwrite(str(paths["gs1"]), gs1)
    qr = render("SN-0001", zxingcpp.BarcodeFormat.QRCode)
    ean = render("9506000134352", zxingcpp.BarcodeFormat.EAN13, scale=3)
    height = max(qr.shape[0], ean.shape[0])
    two = np.hstack(
        [np.pad(i, ((0, height - i.shape[0]), (0, 0)), constant_values=255) for i in (qr, ean)]
    )
    cv2.imwrite(str(paths["two"]), cv2.cvtColor(two, cv2.COLOR_GRAY2BGR))
    cv2.imwrite(str(paths["blank"]), np.full((120, 160), 255, np.uint8))
    write_video(paths["video"], ["V1"] * 5 + [None] * 10 + ["V1"] * 3 + ["V2"] + [None] * 2)
    paths["text"].write_text("no image here\n")
    return paths


def test_json_lines_for_images_and_a_video(files: dict[str, Path]) -> None:
    given = [str(files["gs1"]), str(files["two"]), str(files["blank"]), str(files["video"])]
    result = run("--json", *given)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    by_file: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_file.setdefault(line["file"], []).append(line)
    assert list(by_file) == given  # in the order given, paths exactly as given
    assert by_file[given[0]] == [
        {"file": given[0], "text": GS1_TEXT, "symbology": "]d2", "format": "DataMatrix"}
    ]
    assert sorted((r["format"], r["symbology"], r["text"]) for r in by_file[given[1]]) == [
        ("EAN-13", "]E0", "9506000134352"),
        ("QRCode", "]Q1", "SN-0001"),
    ]
    assert by_file[given[2]] == [
        {"file": given[2], "text": None, "symbology": None, "format": None}
    ]
    # the video: one line per debounced scan (V2 shows in one frame only: never a scan)
    assert by_file[given[3]] == [
        {"file": given[3], "text": "V1", "symbology": "]Q1", "format": "QRCode", "frame": 1},
        {"file": given[3], "text": "V1", "symbology": "]Q1", "format": "QRCode", "frame": 16},
    ]
    assert all(list(line)[:4] == KEYS for line in lines)
    assert "\\u001d" in result.stdout.splitlines()[0]  # GS escaped, never raw on a terminal


def test_relative_paths_come_back_as_given(files: dict[str, Path]) -> None:
    folder = files["gs1"].parent
    result = run("--json", "unit label.png", "./blank.webp", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert [line["file"] for line in json_lines(result.stdout)] == [
        "unit label.png",
        "./blank.webp",
    ]


def test_an_unreadable_file_exits_2_naming_it_and_the_rest_is_still_decoded(
    files: dict[str, Path],
) -> None:
    missing = str(files["gs1"].parent / "missing.png")
    result = run("--json", str(files["text"]), str(files["gs1"]), missing)
    assert result.returncode == 2
    assert f"cannot read {files['text']} as an image or a video" in result.stderr
    assert f"cannot read {missing}: no such file" in result.stderr
    assert [line["text"] for line in json_lines(result.stdout)] == [GS1_TEXT]  # stdout: JSON only


def test_readable_lines_show_control_characters(files: dict[str, Path]) -> None:
    result = run(str(files["gs1"]), str(files["blank"]), str(files["video"]))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{files['gs1']}: DataMatrix ]d2 010950600013435210LOT7␝21SN0042"
    assert lines[1] == f"{files['blank']}: no barcode found"
    assert lines[2] == f"{files['video']} frame 1: QRCode ]Q1 V1"
    assert "\x1d" not in result.stdout


@pytest.mark.parametrize("decoder", ["zxing", "auto", "pyzbar"])
def test_each_decoder_can_be_chosen(decoder: str, files: dict[str, Path]) -> None:
    if decoder == "pyzbar" and not pyzbar_available():
        pytest.skip("libzbar0 is not installed")
    result = run("--json", "--decoder", decoder, str(files["two"]))
    assert result.returncode == 0, result.stderr
    assert {line["text"] for line in json_lines(result.stdout)} == {"SN-0001", "9506000134352"}


HIDE_LIBZBAR = "import ctypes.util\nctypes.util.find_library = lambda name: None"


def test_without_libzbar_pyzbar_says_what_to_install_and_auto_works(
    files: dict[str, Path],
) -> None:
    result = run("--json", "--decoder", "pyzbar", str(files["two"]), prelude=HIDE_LIBZBAR)
    assert result.returncode == 1
    assert "apt-get install libzbar0" in result.stderr
    assert result.stdout == ""
    result = run("--json", str(files["two"]), prelude=HIDE_LIBZBAR)
    assert result.returncode == 0, result.stderr
    assert {line["text"] for line in json_lines(result.stdout)} == {"SN-0001", "9506000134352"}


def test_usage_errors() -> None:
    assert run().returncode == 2  # no FILE
    result = run("--decoder", "opencv", "x.png")
    assert result.returncode == 2 and "opencv" in result.stderr


def huge_png(path: Path, width: int, height: int) -> Path:
    """A real, valid grey PNG of width×height that compresses to a few megabytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    packer = zlib.compressobj(1)
    row = b"\x00" * (width + 1)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


def test_an_image_above_the_pixel_limit_is_refused_before_decoding(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Issue 11, finding 9: a 30000² PNG took 37 s and 3.7 GB; now it is refused from its
    header, named on stderr, counted as unreadable (exit 2), and the other files decoded."""
    big = huge_png(tmp_path / "big\x1b[2J.png", 20_000, 20_000)
    result = run("--json", str(big), str(files["gs1"]))
    assert result.returncode == 2
    assert [line["text"] for line in json_lines(result.stdout)] == [GS1_TEXT]
    assert "big␛[2J.png is 20000×20000 pixels, above the limit of 50 megapixels" in result.stderr
    assert "\x1b" not in result.stderr


def test_an_unreadable_file_name_is_shown_visibly(tmp_path: Path) -> None:
    """Issue 11, finding 11: decode's error lines print the file name through `visible`."""
    hostile = tmp_path / "x\x1b]0;pwned\x07\u202e.png"
    hostile.write_bytes(b"not an image")
    result = run(str(hostile))
    assert result.returncode == 2
    assert "x␛]0;pwned␇⟨U+202E⟩.png" in result.stderr
    assert not any(ch in result.stderr for ch in "\x1b\x07\u202e")
