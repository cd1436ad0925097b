"""Plain-text normalization: paragraphs, boilerplate, title lines, datelines and language.

Rules here are meant for news in general: wire copy, saved web pages and pasted text. Each rule is
a small function so it can be tested on articles written for the test, not only on the seeds.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# --- whitespace and paragraphs -------------------------------------------------------------

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


# --- boilerplate ---------------------------------------------------------------------------

HEAD_WINDOW = 4
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


def _line_key(paragraph: str) -> str:
    return paragraph.casefold()


_BYLINE_LEAD = re.compile(r"^(?:[•·▪■►|]\s*|by\s+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Stripped:
    kept: list[str]
    removed: list[str]
    byline: str | None


def strip_boilerplate(paragraphs: Sequence[str], rules: BoilerplateRules) -> Stripped:
    """Drop template lines; head rules stop at the first paragraph that is clearly article text."""
    kept: list[str] = []
    removed: list[str] = []
    byline: str | None = None
    in_head = True
    for index, paragraph in enumerate(paragraphs):
        in_head = in_head and index < HEAD_WINDOW
        if in_head and byline is None and _matches(rules.byline, paragraph):
            byline = _BYLINE_LEAD.sub("", paragraph)
            removed.append(paragraph)
            continue
        is_noise = (
            _matches(rules.anywhere, paragraph)
            or _line_key(paragraph) in rules.repeated
            or (in_head and _matches(rules.head, paragraph))
        )
        if is_noise:
            removed.append(paragraph)
            continue
        if len(paragraph.split()) > 25:
            in_head = False
        kept.append(paragraph)
    while kept and _matches(rules.tail, kept[-1]):
        removed.insert(0, kept.pop())
    return Stripped(kept, removed, byline)


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
        counts.update({_line_key(line) for line in edges if len(line.split()) <= REPEATED_LINE_MAX_WORDS})
    needed = max(REPEATED_LINE_MIN_DOCS, REPEATED_LINE_MIN_SHARE * len(distinct))
    return {line for line, count in counts.items() if count >= needed}


# --- titles --------------------------------------------------------------------------------

TITLE_MAX_WORDS = 20
TITLE_MAX_CHARS = 200
SUBTITLE_MIN_WORDS = 4
SUBTITLE_MAX_WORDS = 45
_TITLE_BAD_END = re.compile(r"[.,;:–—-]$")
_SENTENCE_END = re.compile(r"[.!?…]$")


def looks_like_headline(paragraph: str) -> bool:
    """Short, no sentence-final full stop, starts like a heading: a headline, not a lead sentence."""
    words = paragraph.split()
    return (
        0 < len(words) <= TITLE_MAX_WORDS
        and len(paragraph) <= TITLE_MAX_CHARS
        and not _TITLE_BAD_END.search(paragraph)
        and (paragraph[0].isupper() or paragraph[0].isdigit() or paragraph[0] in "\"“‘«'")
        and parse_dateline(paragraph) is None
    )


def _looks_like_subtitle(paragraph: str) -> bool:
    """A standfirst reads as a phrase of some length; a two-word line is a section heading instead."""
    return SUBTITLE_MIN_WORDS <= len(paragraph.split()) <= SUBTITLE_MAX_WORDS and not _SENTENCE_END.search(paragraph)


@dataclass(frozen=True, slots=True)
class TitleLines:
    title: str | None
    alt_title: str | None
    alt_title_language: str | None
    subtitle: str | None
    body: list[str]


def split_title(paragraphs: Sequence[str], detect: LanguageDetector) -> TitleLines:
    """Headline, then optionally its original-language headline and/or a standfirst; never a lead sentence.

    With no headline-like first paragraph the title stays None and the caller flags it.
    """
    rest = list(paragraphs)
    if len(rest) < 2 or not looks_like_headline(rest[0]):
        return TitleLines(None, None, None, None, rest)
    title = rest.pop(0)
    alt_title = alt_language = subtitle = None
    if len(rest) >= 2 and looks_like_headline(rest[0]):
        title_language = detect.language_of(title)
        candidate_language = detect.language_of(rest[0])
        if candidate_language and title_language and candidate_language != title_language:
            alt_title, alt_language = rest.pop(0), candidate_language
    if len(rest) >= 2 and _looks_like_subtitle(rest[0]):
        subtitle = rest.pop(0)
    return TitleLines(title, alt_title, alt_language, subtitle, rest)


# --- datelines -----------------------------------------------------------------------------

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted((name.capitalize() for name in MONTHS), key=len, reverse=True))
_DATELINE = re.compile(
    rf"""^
    (?P<place>[A-Z][A-Z'.\-]+(?:\ [A-Z][A-Z'.\-]+){{0,3}}
        (?:,\ (?!(?:{_MONTH})\b)[A-Z][A-Za-z.\-]+(?:\ [A-Z][A-Za-z.\-]+){{0,2}})?)
    (?:,\ (?P<month>{_MONTH})\.?\ (?P<day>\d{{1,2}})(?:,\ (?P<year>(?:19|20)\d\d))?)?
    \.?\s*
    (?:\((?P<agency_paren>[A-Za-z][\w.&\ -]{{0,30}})\)|/(?P<agency_slash>[A-Za-z][\w.&\ -]{{0,30}})/)?
    \s*(?P<sep>\.|:|-{{1,2}}|–|—)\s+
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Dateline:
    """`MOSCOW, September 21. /TASS/.`: place, agency and a partial date; an unknown year stays None."""

    text: str
    place: str
    agency: str | None
    month: int | None
    day: int | None
    year: int | None


def parse_dateline(paragraph: str) -> Dateline | None:
    """Recognise a wire dateline at the start of a paragraph; a bare capitalised word needs a dash to count."""
    match = _DATELINE.match(paragraph)
    if not match:
        return None
    agency = match["agency_paren"] or match["agency_slash"]
    if not (agency or match["month"] or match["sep"] in {"-", "--", "–", "—"}):
        return None
    place = match["place"]
    if len(place.replace(" ", "")) < 2 or not any(ch.isalpha() for ch in place):
        return None
    return Dateline(
        text=match.group(0).strip(),
        place=place,
        agency=agency.strip() if agency else None,
        month=MONTHS[match["month"].lower()] if match["month"] else None,
        day=int(match["day"]) if match["day"] else None,
        year=int(match["year"]) if match["year"] else None,
    )


# --- language ------------------------------------------------------------------------------

LANGUAGE_MIN_CHARS = 20
# langid's cost grows with length; these samples decide the language as well as the whole text does.
ARTICLE_SAMPLE_CHARS = 2000
PARAGRAPH_SAMPLE_CHARS = 160
# A letter outside ASCII and the Latin-1/Latin Extended blocks: Cyrillic, Greek, CJK, Arabic, ...
_NON_LATIN_LETTER = re.compile(r"[^\W\d_A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
PARAGRAPH_MIN_WORDS = 8
MIXED_MIN_PROBABILITY = 0.99
MIXED_OTHER_SCRIPT_MIN_PROBABILITY = 0.8


class LanguageDetector:
    """py3langid with normalized probabilities; its model ships in the wheel, so nothing is downloaded."""

    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def classify(self, text: str) -> tuple[str | None, float]:
        if len(text.strip()) < LANGUAGE_MIN_CHARS and not _non_latin(text):
            return None, 0.0
        language, probability = self._identifier.classify(text)
        return language, float(probability)

    def language_of(self, text: str) -> str | None:
        return self.classify(text)[0]


@functools.lru_cache(maxsize=1)
def language_detector() -> LanguageDetector:
    return LanguageDetector()


def _non_latin(text: str) -> bool:
    return bool(_NON_LATIN_LETTER.search(text))


@dataclass(frozen=True, slots=True)
class LanguageResult:
    language: str | None
    confidence: float
    languages: list[str]
    mixed: bool


def detect_languages(body: Sequence[str], extra_lines: Sequence[str], detect: LanguageDetector) -> LanguageResult:
    """One language for the article, plus every other language a substantial paragraph or title line is in."""
    text = "\n".join(body)[:ARTICLE_SAMPLE_CHARS]
    language, confidence = detect.classify(text)
    seen: list[str] = [language] if language else []
    body_script_latin = not _non_latin(text)
    for paragraph in [*extra_lines, *body]:
        other_script = _non_latin(paragraph) == body_script_latin
        if len(paragraph.split()) < PARAGRAPH_MIN_WORDS and not other_script:
            continue
        other, probability = detect.classify(paragraph[:PARAGRAPH_SAMPLE_CHARS])
        needed = MIXED_OTHER_SCRIPT_MIN_PROBABILITY if other_script else MIXED_MIN_PROBABILITY
        if other and other not in seen and probability >= needed:
            seen.append(other)
    return LanguageResult(language, round(confidence, 4), seen, len(seen) > 1)


# --- the whole text ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NormalizedText:
    title: str | None
    alt_title: str | None
    alt_title_language: str | None
    subtitle: str | None
    byline: str | None
    dateline: Dateline | None
    body_text: str
    language: LanguageResult
    removed_boilerplate: list[str] = field(default_factory=list)


def normalize_paragraphs(
    paragraphs: Sequence[str],
    rules: BoilerplateRules,
    *,
    title: str | None = None,
    detect_title: bool = True,
    detect: LanguageDetector | None = None,
) -> NormalizedText:
    """Boilerplate out, title lines split off (unless the source gave a title), dateline parsed off the lead."""
    detect = detect or language_detector()
    stripped = strip_boilerplate(paragraphs, rules)
    kept = stripped.kept
    if title is not None:
        title = clean_line(title) or None
    if title is None and detect_title:
        lines = split_title(kept, detect)
    else:
        body = [p for p in kept if _line_key(p) != _line_key(title)] if title else list(kept)
        lines = TitleLines(title, None, None, None, body)
    body = list(lines.body)
    dateline = parse_dateline(body[0]) if body else None
    if dateline:
        lead = body[0][len(dateline.text):].lstrip()
        body = [lead, *body[1:]] if lead else body[1:]
    extra = [line for line in (lines.title, lines.alt_title, lines.subtitle) if line]
    return NormalizedText(
        title=lines.title,
        alt_title=lines.alt_title,
        alt_title_language=lines.alt_title_language,
        subtitle=lines.subtitle,
        byline=stripped.byline,
        dateline=dateline,
        body_text="\n\n".join(body),
        language=detect_languages(body, extra, detect),
        removed_boilerplate=stripped.removed,
    )
