"""Boilerplate: the reviewed pattern file (schemas/boilerplate.yaml), and lines one source repeats.

Patterns say where they apply (anywhere, the head, the tail, a byline among the opening paragraphs).
Lines repeated at the edges of many different documents of one source are learned from the source's
history (table `source_documents`) together with the batch, never from the batch alone, so a body
does not change with how its files were batched or split among workers.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.ids import sha256_hex
from pipelines.records import SourceDocument
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


@dataclass(frozen=True, slots=True)
class EdgeCounts:
    """A source's stored history: its distinct documents, and how many of them open or close with each line."""

    documents: int = 0
    lines: Mapping[str, int] = field(default_factory=dict)


# (source_id, the line keys wanted, document hashes to leave out because the batch brings them) -> counts
SourceHistory = Callable[[str, Collection[str], Collection[str]], EdgeCounts]


def no_history(source_id: str, keys: Collection[str], hashes: Collection[str]) -> EdgeCounts:
    """Before the first load nothing is stored: the batch alone is the history."""
    return EdgeCounts()


def source_document(source_id: str, paragraphs: Sequence[str]) -> SourceDocument:
    """The document as boilerplate learning counts it: the first and last few paragraphs, where site chrome lives."""
    edges = {*paragraphs[:EDGE_WINDOW], *paragraphs[-EDGE_WINDOW:]}
    return SourceDocument(source_id, sha256_hex("\n".join(paragraphs)), sorted(short_lines(edges)))


def short_lines(paragraphs: Iterable[str]) -> set[str]:
    """Keys of the paragraphs short enough to be template text: what a learned line could remove."""
    return {line_key(line) for line in paragraphs if len(line.split()) <= REPEATED_LINE_MAX_WORDS}


def repeated_lines(history: EdgeCounts, documents: Iterable[SourceDocument]) -> frozenset[str]:
    """Short lines that open or close many *different* documents of one source, history and batch together.

    Distinct documents are counted (by hash, the history leaving out the batch's own), so copies of one
    story never vote their own lines out, and a re-run counts nothing twice.
    """
    distinct = {document.document_hash: document.edge_lines for document in documents}
    total = history.documents + len(distinct)
    if total < REPEATED_LINE_MIN_DOCS:
        return frozenset()
    counts: Counter[str] = Counter(history.lines)
    for lines in distinct.values():
        counts.update(set(lines))
    needed = max(REPEATED_LINE_MIN_DOCS, REPEATED_LINE_MIN_SHARE * total)
    return frozenset(line for line, count in counts.items() if count >= needed)
