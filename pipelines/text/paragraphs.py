"""Paragraphs from plain text: one clean line per paragraph, hard-wrapped blocks joined.

Every later text rule, and every character offset the NLP stages store, relies on the form
`clean_line` gives: NFC, no invisible characters, single spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n")
_TERMINAL = re.compile(r"[.!?:;\"”’»)]$")

HARD_WRAP_MIN_LINES = 3
HARD_WRAP_MAX_WIDTH = 100
HARD_WRAP_MIN_FILL = 0.6


def clean_line(line: str) -> str:
    """NFC, no invisible characters, single spaces: the form every later rule and offset relies on."""
    line = unicodedata.normalize("NFC", line).translate(_INVISIBLE)
    return _SPACES.sub(" ", line).strip()


def line_key(paragraph: str) -> str:
    """Lines that differ only in case are the same line (a repeated footer, a title repeated in the body)."""
    return paragraph.casefold()


def _is_hard_wrapped(lines: Sequence[str]) -> bool:
    """Lines of a block filled to a fixed width (e-mail, wire terminals) are one paragraph, not many."""
    if len(lines) < HARD_WRAP_MIN_LINES:
        return False
    widest = max(len(line) for line in lines)
    if widest > HARD_WRAP_MAX_WIDTH:
        return False
    body = lines[:-1]
    filled = all(len(line) >= HARD_WRAP_MIN_FILL * widest for line in body)
    open_ended = sum(not _TERMINAL.search(line) for line in body) * 2 >= len(body)
    return filled and open_ended


def split_paragraphs(text: str) -> list[str]:
    """Blank lines separate blocks; inside a block each line is a paragraph unless the block is hard-wrapped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    paragraphs: list[str] = []
    for block in _BLANK_LINE.split(text):
        lines = [cleaned for cleaned in (clean_line(line) for line in block.split("\n")) if cleaned]
        if not lines:
            continue
        if _is_hard_wrapped(lines):
            paragraphs.append(" ".join(lines))
        else:
            paragraphs.extend(lines)
    return paragraphs
