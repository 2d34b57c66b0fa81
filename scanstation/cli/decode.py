"""`scanstation decode [--json] [--decoder NAME] FILE...`: read the barcodes in photos and videos.

For an image: every symbol found, or that nothing was found. For a video: the scans the
camera would have reported watching it (debounced), each with its frame number (from 0).
With --json, stdout carries only JSON lines: {"file", "text", "symbology", "format"} (plus
"frame" for a video), and one line with "text": null for a file where nothing was found.
Exit 0 when every file could be read, 2 when one could not be read as an image or a video
(named on stderr), 1 when the decoder itself is not available.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from scanstation.domain.text import visible
from scanstation.sources.decoders import (
    BACKENDS,
    DecoderError,
    ImageTooLarge,
    Symbol,
    check_backend,
    load_image,
)
from scanstation.sources.decoders import decode as decode_image

# Read as videos without trying them as images first (which would load the whole file).
VIDEO_SUFFIXES = frozenset(
    [
        ".avi",
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".mpg",
        ".mpeg",
        ".wmv",
        ".flv",
        ".3gp",
        ".ts",
        ".mts",
        ".m2ts",
        ".ogv",
        ".mjpeg",
    ]
)


@dataclass
class FileResult:
    path: str  # exactly as given
    records: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _record(path: str, symbol: Symbol | None, frame: int | None, video: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "file": path,
        "text": symbol.text if symbol else None,
        "symbology": symbol.symbology if symbol else None,
        "format": symbol.format if symbol else None,
    }
    if video:
        record["frame"] = frame
    return record


def _decode_video(path: str, backend: str) -> FileResult:
    from scanstation.sources.camera import CameraError, scan_video

    result = FileResult(path)
    try:
        for scan in scan_video(path, backend=backend):
            result.records.append(_record(path, scan.symbol, scan.frame, video=True))
    except CameraError as exc:
        result.error = str(exc)
        return result
    except Exception as exc:  # one odd file must not end a run over a thousand
        result.error = f"cannot decode {path}: {exc}"
        return result
    if not result.records:
        result.records.append(_record(path, None, None, video=True))
    return result


def decode_file(path: str, backend: str = "auto") -> FileResult:
    """Decode one file given on the command line; errors become `error`, never raise."""
    if not Path(path).is_file():
        reason = "is a directory" if Path(path).is_dir() else "no such file"
        return FileResult(path, error=f"cannot read {path}: {reason}")
    if not os.access(path, os.R_OK):
        return FileResult(path, error=f"cannot read {path}: permission denied")
    if Path(path).suffix.lower() in VIDEO_SUFFIXES:
        return _decode_video(path, backend)
    try:
        image = load_image(path)
    except ImageTooLarge as exc:
        return FileResult(path, error=str(exc))
    except DecoderError:
        return _decode_video(path, backend)  # not an image OpenCV knows: maybe a video
    try:
        symbols = decode_image(image, backend=backend)
    except Exception as exc:  # one odd file must not end a run over a thousand
        return FileResult(path, error=f"cannot decode {path}: {exc}")
    records = [_record(path, s, None, video=False) for s in symbols]
    return FileResult(path, records or [_record(path, None, None, video=False)])


def _human(record: dict[str, Any]) -> str:
    where = visible(record["file"])
    if "frame" in record and record["frame"] is not None:
        where += f" frame {record['frame']}"
    if record["text"] is None:
        return f"{where}: no barcode found"
    return f"{where}: {record['format']} {record['symbology']} {visible(record['text'])}"


def _results(files: Sequence[str], backend: str) -> Iterator[FileResult]:
    # zxing-cpp, zbar and OpenCV release the GIL while they work, so threads decode files in
    # parallel without a process pool's start-up and pickling; results keep the given order.
    workers = min(len(files), os.cpu_count() or 1)
    if workers <= 1:
        yield from (decode_file(f, backend) for f in files)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        yield from pool.map(lambda f: decode_file(f, backend), files)


@click.command("decode")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON lines on stdout.")
@click.option(
    "--decoder",
    "backend",
    type=click.Choice(BACKENDS),
    default="auto",
    show_default=True,
    help="zxing (zxing-cpp), pyzbar (zbar), or auto: zxing-cpp, then zbar and preprocessing.",
)
@click.argument("files", nargs=-1, required=True)
def decode(as_json: bool, backend: str, files: tuple[str, ...]) -> None:
    """Read the barcodes in images (png, jpg, webp, ...) and video files.

    An image gives a line per symbol, or one saying nothing was found; a video gives the
    scans the camera would report watching it (debounced), each with its frame (from 0).
    With --json: JSON lines with file, text (after the symbology identifier, GS1 with GS
    separators), symbology and format, plus frame for a video; text is null when nothing
    was found. Exit 0 when every file could be read, 2 when one could not.
    """
    try:
        check_backend(backend)  # once, up front: pyzbar without libzbar says what to install
    except DecoderError as exc:
        click.echo(f"decode: {exc}", err=True)
        sys.exit(1)
    unreadable = 0
    try:
        for result in _results(files, backend):
            if result.error is not None:
                unreadable += 1
                click.echo(f"decode: {visible(result.error)}", err=True)
                continue
            for record in result.records:
                line = json.dumps(record, ensure_ascii=True) if as_json else _human(record)
                click.echo(line)
    except BrokenPipeError:  # `scanstation decode ... | head`
        sys.stderr.close()
        sys.exit(0)
    sys.exit(2 if unreadable else 0)


if __name__ == "__main__":
    decode(prog_name="scanstation decode")
