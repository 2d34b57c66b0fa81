"""Big letters for a kiosk's banner: a word three rows tall, read from two metres at 80×24.

Each letter is drawn on a 5×5 grid and printed with half blocks (▀ ▄ █), two grid rows to a
terminal row, so a letter is three rows tall and five columns wide. Textual's `Digits` has
no letters beyond A–F, hence a font of our own.
"""

from __future__ import annotations

__all__ = ["BIG_HEIGHT", "big_width", "big_word"]

BIG_HEIGHT = 3  # terminal rows
_GAP = 1  # columns between letters
_SPACE = 3  # columns of a space

_FONT_ROWS = {
    "A": (".###.", "#...#", "#####", "#...#", "#...#"),
    "B": ("####.", "#...#", "####.", "#...#", "####."),
    "C": (".####", "#....", "#....", "#....", ".####"),
    "D": ("####.", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "####.", "#....", "#####"),
    "F": ("#####", "#....", "####.", "#....", "#...."),
    "G": (".####", "#....", "#..##", "#...#", ".####"),
    "H": ("#...#", "#...#", "#####", "#...#", "#...#"),
    "I": ("#####", "..#..", "..#..", "..#..", "#####"),
    "J": ("..###", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "###..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#...#", "#...#"),
    "N": ("#...#", "##..#", "#.#.#", "#..##", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "####.", "#....", "#...."),
    "Q": (".###.", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "####.", "#..#.", "#...#"),
    "S": (".####", "#....", ".###.", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#.#.#", "##.##", "#...#"),
    "X": ("#...#", ".#.#.", "..#..", ".#.#.", "#...#"),
    "Y": ("#...#", ".#.#.", "..#..", "..#..", "..#.."),
    "Z": ("#####", "...#.", "..#..", ".#...", "#####"),
}
_HALVES = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def _glyph(rows: tuple[str, ...]) -> tuple[str, ...]:
    """Five grid rows → three terminal rows of half blocks (the last one's lower half blank)."""
    padded = [*rows, "." * len(rows[0])]
    return tuple(
        "".join(
            _HALVES[(top == "#", bottom == "#")]
            for top, bottom in zip(padded[line], padded[line + 1], strict=True)
        )
        for line in range(0, len(padded), 2)
    )


_FONT = {letter: _glyph(rows) for letter, rows in _FONT_ROWS.items()}


def big_width(word: str) -> int:
    """Columns `big_word(word)` takes."""
    widths = [_SPACE if ch == " " else len(_FONT[ch][0]) for ch in word.upper() if _known(ch)]
    return sum(widths) + _GAP * max(0, len(widths) - 1)


def big_word(word: str) -> list[str]:
    """`word` in big letters: three lines of equal width. Characters the font lacks are left
    out (the banner's small line still says everything)."""
    lines = [""] * BIG_HEIGHT
    first = True
    for ch in word.upper():
        if not _known(ch):
            continue
        glyph = (" " * _SPACE,) * BIG_HEIGHT if ch == " " else _FONT[ch]
        for row in range(BIG_HEIGHT):
            lines[row] += ("" if first else " " * _GAP) + glyph[row]
        first = False
    return lines


def _known(ch: str) -> bool:
    return ch == " " or ch in _FONT
