"""Boilerplate: the reviewed pattern file (schemas/boilerplate.yaml), and lines one source repeats.

Patterns say where they apply (anywhere, the head, the tail, a byline among the opening paragraphs);
lines repeated at the edges of many different documents of one source are found per batch.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipelines.text.datelines import byline_credit
from pipelines.text.paragraphs import line_key

HEAD_WINDOW = 4
# A paragraph this long is article text: head rules (time stamps, labels) stop applying after it.
ARTICLE_PARAGRAPH_MIN_WORDS = 26
EDGE_WINDOW = 3
REPEATED_LINE_MAX_WORDS = 12
REPEATED_LINE_MIN_DOCS = 3
REPEATED_LINE_MIN_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class BoilerplateRules:
    """Whole-paragraph patterns by where they apply, plus lines found repeated across one source's documents."""

    anywhere: tuple[re.Pattern[str], ...] = ()
    byline: tuple[re.Pattern[str], ...] = ()
    head: tuple[re.Pattern[str], ...] = ()
    tail: tuple[re.Pattern[str], ...] = ()
    repeated: frozenset[str] = frozenset()

    def with_repeated(self, lines: Iterable[str]) -> BoilerplateRules:
        return BoilerplateRules(self.anywhere, self.byline, self.head, self.tail, frozenset(lines))


def _compile(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(rf"(?:{pattern})", re.IGNORECASE) for pattern in patterns)


@functools.lru_cache(maxsize=8)
def load_boilerplate_rules(path: Path) -> BoilerplateRules:
    """Read the reviewed pattern file; a bad regex fails here, naming the file, not mid-batch."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return BoilerplateRules(
            anywhere=_compile(spec.get("anywhere", [])),
            byline=_compile(spec.get("byline", [])),
            head=_compile(spec.get("head", [])),
            tail=_compile(spec.get("tail", [])),
        )
    except re.error as exc:
        raise ValueError(f"{path}: invalid boilerplate pattern {exc.pattern!r}: {exc}") from exc


def _matches(patterns: Iterable[re.Pattern[str]], paragraph: str) -> bool:
    return any(pattern.fullmatch(paragraph) for pattern in patterns)


@dataclass(frozen=True, slots=True)
class Stripped:
    kept: list[str]
    byline: str | None


def strip_boilerplate(paragraphs: Sequence[str], rules: BoilerplateRules) -> Stripped:
    """Drop template lines; head rules stop at the first paragraph that is clearly article text."""
    kept: list[str] = []
    byline: str | None = None
    in_head = True
    for index, paragraph in enumerate(paragraphs):
        in_head = in_head and index < HEAD_WINDOW
        if in_head and byline is None and _matches(rules.byline, paragraph):
            byline = byline_credit(paragraph)
            continue
        is_noise = (
            _matches(rules.anywhere, paragraph)
            or line_key(paragraph) in rules.repeated
            or (in_head and _matches(rules.head, paragraph))
        )
        if is_noise:
            continue
        if len(paragraph.split()) >= ARTICLE_PARAGRAPH_MIN_WORDS:
            in_head = False
        kept.append(paragraph)
    while kept and _matches(rules.tail, kept[-1]):
        kept.pop()
    return Stripped(kept, byline)


def repeated_edge_lines(documents: Iterable[Sequence[str]]) -> set[str]:
    """Short lines that open or close many *different* documents of one source are template text.

    Counting distinct documents (by their paragraph set) keeps copies of one story from voting
    their own lines out, and only the first and last few paragraphs are considered, where site
    chrome lives.
    """
    distinct = {tuple(doc) for doc in documents}
    if len(distinct) < REPEATED_LINE_MIN_DOCS:
        return set()
    counts: Counter[str] = Counter()
    for doc in distinct:
        edges = {*doc[:EDGE_WINDOW], *doc[-EDGE_WINDOW:]}
        counts.update({line_key(line) for line in edges if len(line.split()) <= REPEATED_LINE_MAX_WORDS})
    needed = max(REPEATED_LINE_MIN_DOCS, REPEATED_LINE_MIN_SHARE * len(distinct))
    return {line for line, count in counts.items() if count >= needed}
