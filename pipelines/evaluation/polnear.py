"""Score quote extraction on a PolNeAR-format folder by the maintainers' rules.

The folder holds `text/<article>.txt` and `attributions.jsonl`.

- gold: every double-quote-delimited segment of 3+ words inside an attribution's `content`, found two ways:
  marks paired inside one content segment, and marks paired over the whole text whose quoted words all lie in
  one content segment (annotators often leave the marks themselves outside the content). A paragraph the next
  one reopens ends its segment. Segments with the same offsets count once.
- recall: a gold segment is found when one extracted quote holds >= 80 % of its word tokens and >= half of the
  extracted quote's tokens lie in it.
- precision: an extracted quote of 3+ words is right when >= 80 % of its tokens lie in one attribution's content
  ("some annotated content" read as one attribution: all its content segments together, not the article's
  union of contents).
- speaker: over found segments whose gold source is a name (not a pronoun, not empty; the innermost attribution
  holding the segment decides), the extracted speaker text or resolved entity name shares a content word with it.

Tokens are word matches located by offset, so "contains" means the same words of the text, not equal strings.
Misses are grouped by a cause computed from the pipeline's own quote marks and attributions.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from pipelines.evaluation.quotes import article_quotes, ratio, read_jsonl
from pipelines.nlp.entities import load_alias_rules
from pipelines.nlp.model import load_pipeline, parse
from pipelines.nlp.quotes.marks import PARAGRAPH_BREAK, find_quote_spans
from pipelines.nlp.quotes.speakers import WORD_RE
from pipelines.records import ArticleText, Entity, Quote

ATTRIBUTIONS_FILE = "attributions.jsonl"
TEXT_DIR = "text"
LANGUAGE = "en"
MIN_GOLD_WORDS = 3
MIN_EXTRACTED_WORDS = 3
RECALL_GOLD_SHARE = 0.8  # of the gold segment's tokens inside the extracted quote
RECALL_QUOTE_SHARE = 0.5  # of the extracted quote's tokens inside the gold segment
PRECISION_CONTENT_SHARE = 0.8
DOUBLE_MARKS = frozenset('"“”')
OPENERS, CLOSERS = frozenset('"“'), frozenset('"”')
PRONOUN_SOURCES = frozenset(
    [
        "i",
        "me",
        "we",
        "us",
        "you",
        "he",
        "him",
        "she",
        "her",
        "it",
        "they",
        "them",
        "this",
        "that",
        "these",
        "those",
        "who",
        "whom",
        "which",
        "one",
        "someone",
    ]
)
HONORIFICS = frozenset({"mr", "mrs", "ms", "dr"})  # "Mr. Trump" and "Mr. Pence" share no content word

# causes of a miss, computed in this order
MARKS_UNPAIRED = "quote marks not paired by marks.py"
SPAN_DIFFERS = "quotation split or joined differently from the gold segment"
NOT_ATTRIBUTED = "quotation found but not attributed (no cue, or taken for a name/scare quote)"
EXTRA = "extracted quote outside every annotated content"
WRONG_SPEAKER = "speaker shares no content word with the gold source"
CONTEXT_CHARS = 90


@dataclass(frozen=True, slots=True)
class GoldSegment:
    """One quoted segment of the gold and the source of the innermost attribution holding it."""

    start: int
    end: int
    source: str


@dataclass(frozen=True, slots=True)
class Miss:
    """One disagreement with the gold, for `--misses`."""

    cause: str
    article: str
    quote: str
    context: str
    gold_speaker: str | None = None
    predicted_speaker: str | None = None


@dataclass(frozen=True, slots=True)
class PolnearScores:
    """Counts and rates over a PolNeAR folder."""

    articles: int
    gold_segments: int
    found: int
    extracted: int
    extracted_right: int
    speaker_scored: int
    speaker_agreeing: int
    recall: float
    precision: float
    speaker: float
    misses: tuple[Miss, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


class Tokens:
    """The word tokens of one text by offset: which of them a character range holds."""

    def __init__(self, text: str) -> None:
        matches = list(WORD_RE.finditer(text))
        self.starts = [m.start() for m in matches]
        self.ends = [m.end() for m in matches]

    def within(self, start: int, end: int) -> range:
        """Indexes of the tokens lying wholly inside [start, end)."""
        low = bisect.bisect_left(self.starts, start)
        high = bisect.bisect_right(self.ends, end, lo=low)
        return range(low, max(low, high))


def _overlap(a: range, b: range) -> int:
    return max(0, min(a.stop, b.stop) - max(a.start, b.start))


def paired_double_quotes(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of the text between paired double quote marks inside text[start:end].

    A mark left open at a paragraph break is delimited there only when the next paragraph reopens the
    quotation (the news convention for a quote running over paragraphs); otherwise it delimits nothing.
    """
    spans: list[tuple[int, int]] = []
    opened: int | None = None
    for i in range(start, end):
        char = text[i]
        if char == PARAGRAPH_BREAK and opened is not None:
            if text[i:end].lstrip()[:1] in OPENERS:
                spans.append((opened, i))
            opened = None
        elif char in DOUBLE_MARKS:
            if opened is None and char in OPENERS:
                opened = i + 1
            elif opened is not None and char in CLOSERS:
                spans.append((opened, i))
                opened = None
    return spans


def _content_segments(row: Mapping[str, Any]) -> list[tuple[int, int]]:
    return [(int(s), int(e)) for s, e in row.get("content_segments") or []]


def _quoted_inside(
    text: str, c_start: int, c_end: int, whole: Sequence[tuple[int, int]], tokens: Tokens
) -> list[tuple[int, int]]:
    """Quoted segments of a content segment: marks paired inside it, or in the whole text around words inside it."""
    content = tokens.within(c_start, c_end)
    outside = [(s, e) for s, e in whole if len(span := tokens.within(s, e)) and _overlap(span, content) == len(span)]
    return [*paired_double_quotes(text, c_start, c_end), *outside]


def gold_segments(text: str, attributions: Iterable[Mapping[str, Any]], tokens: Tokens) -> list[GoldSegment]:
    """The scored quoted segments of one article, each once, with its innermost attribution's source."""
    best: dict[tuple[int, int], tuple[int, str]] = {}
    whole = [(s, e) for s, e in paired_double_quotes(text, 0, len(text)) if len(tokens.within(s, e)) >= MIN_GOLD_WORDS]
    for row in attributions:
        segments = _content_segments(row)
        size = sum(e - s for s, e in segments)
        for c_start, c_end in segments:
            for start, end in _quoted_inside(text, c_start, c_end, whole, tokens):
                if len(tokens.within(start, end)) < MIN_GOLD_WORDS:
                    continue
                key = (start, end)
                if key not in best or size < best[key][0]:
                    best[key] = (size, row.get("source") or "")
    return [GoldSegment(start, end, source) for (start, end), (_, source) in sorted(best.items())]


def content_words(text: str) -> set[str]:
    """Lower-case words of a name that carry meaning: no stop words, honorifics or single letters."""
    words = {w.lower().removesuffix("’s").removesuffix("'s") for w in WORD_RE.findall(text)}
    return {w for w in words if len(w) > 1 and w not in STOP_WORDS and w not in HONORIFICS}


def is_named_source(source: str) -> bool:
    return bool(source.strip()) and source.strip().lower() not in PRONOUN_SOURCES


def in_content(tokens: Tokens, attributions: Sequence[Mapping[str, Any]], start: int, end: int) -> bool:
    """The precision rule: >= 80 % of the words of text[start:end] lie in the content of one attribution."""
    span = tokens.within(start, end)
    return any(
        sum(_overlap(span, tokens.within(s, e)) for s, e in _content_segments(row))
        >= PRECISION_CONTENT_SHARE * len(span)
        for row in attributions
    )


def _found_by(gold: range, quotes: Sequence[range]) -> int | None:
    """Index of the extracted quote that finds the gold segment (largest overlap), else None."""
    best, best_overlap = None, 0
    for k, quote in enumerate(quotes):
        shared = _overlap(gold, quote)
        if (
            shared >= RECALL_GOLD_SHARE * len(gold)
            and shared >= RECALL_QUOTE_SHARE * len(quote)
            and shared > best_overlap
        ):
            best, best_overlap = k, shared
    return best


def _miss_cause(gold: range, spans: Sequence[range]) -> str:
    """Why a gold segment was missed, from the quotations marks.py pairs in the article (their tokens)."""
    holding = [span for span in spans if _overlap(gold, span) >= RECALL_GOLD_SHARE * len(gold)]
    if not holding:
        return MARKS_UNPAIRED
    if all(_overlap(gold, span) < RECALL_QUOTE_SHARE * len(span) for span in holding):
        return SPAN_DIFFERS
    return NOT_ATTRIBUTED


def _context(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - CONTEXT_CHARS) : min(len(text), end + CONTEXT_CHARS)].split())


@dataclass(slots=True)
class _Tally:
    gold: int = 0
    found: int = 0
    extracted: int = 0
    right: int = 0
    speaker_scored: int = 0
    speaker_agreeing: int = 0
    misses: list[Miss] = field(default_factory=list)


def score_article(
    article: str,
    text: str,
    attributions: Sequence[Mapping[str, Any]],
    quotes: Sequence[Quote],
    entities: Mapping[str, Entity],
    tally: _Tally,
) -> None:
    """Add one article's recall, precision and speaker counts and its misses to the tally."""
    tokens = Tokens(text)
    gold = gold_segments(text, attributions, tokens)
    quote_tokens = [tokens.within(q.start_char, q.end_char) for q in quotes]
    mark_spans = [tokens.within(s.start, s.end) for s in find_quote_spans(text)]
    tally.gold += len(gold)
    for segment in gold:
        span = tokens.within(segment.start, segment.end)
        k = _found_by(span, quote_tokens)
        if k is None:
            cause = _miss_cause(span, mark_spans)
            missed = text[segment.start : segment.end]
            tally.misses.append(
                Miss(cause, article, missed, _context(text, segment.start, segment.end), segment.source)
            )
            continue
        tally.found += 1
        if is_named_source(segment.source):
            tally.speaker_scored += 1
            entity = entities.get(quotes[k].speaker_entity_id or "")
            predicted = " ".join(filter(None, (quotes[k].speaker_text, entity.name if entity else None)))
            if content_words(predicted) & content_words(segment.source):
                tally.speaker_agreeing += 1
            else:
                tally.misses.append(
                    Miss(
                        WRONG_SPEAKER,
                        article,
                        quotes[k].quote_text,
                        _context(text, quotes[k].start_char, quotes[k].end_char),
                        segment.source,
                        predicted or None,
                    )
                )
    for quote, span in zip(quotes, quote_tokens, strict=True):
        if len(span) < MIN_EXTRACTED_WORDS:
            continue
        tally.extracted += 1
        if in_content(tokens, attributions, quote.start_char, quote.end_char):
            tally.right += 1
        else:
            tally.misses.append(
                Miss(
                    EXTRA,
                    article,
                    quote.quote_text,
                    _context(text, quote.start_char, quote.end_char),
                    None,
                    quote.speaker_text,
                )
            )


def read_polnear(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Attribution rows by article, for every article that has a text file."""
    by_article: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in read_jsonl(folder / ATTRIBUTIONS_FILE):
        by_article[row["article"]].append(row)
    for path in (folder / TEXT_DIR).glob("*.txt"):
        by_article.setdefault(path.stem, [])
    return dict(sorted(by_article.items()))


def _rate(num: int, den: int) -> float:
    return round(ratio(num, den), 4)


def evaluate_polnear(folder: Path, *, model: str, alias_file: Path) -> PolnearScores:
    """Run the pipeline's parse, entity and quote steps on every article text (as body) and score them."""
    by_article = read_polnear(folder)
    rules = load_alias_rules(alias_file)
    articles = [
        ArticleText(name, (folder / TEXT_DIR / f"{name}.txt").read_text(encoding="utf-8"), LANGUAGE)
        for name in by_article
    ]
    tally = _Tally()
    for parsed in parse(load_pipeline(model), articles):
        quotes, entities = article_quotes(parsed, rules)
        name = parsed.article.article_id
        score_article(name, parsed.article.body_text, by_article[name], quotes, entities, tally)
    return PolnearScores(
        articles=len(articles),
        gold_segments=tally.gold,
        found=tally.found,
        extracted=tally.extracted,
        extracted_right=tally.right,
        speaker_scored=tally.speaker_scored,
        speaker_agreeing=tally.speaker_agreeing,
        recall=_rate(tally.found, tally.gold),
        precision=_rate(tally.right, tally.extracted),
        speaker=_rate(tally.speaker_agreeing, tally.speaker_scored),
        misses=tuple(tally.misses),
    )


def format_polnear(scores: PolnearScores, *, misses: bool = False) -> str:
    """The three rates with their counts; with `misses`, every disagreement grouped by cause."""
    lines = [
        f"{'articles':<20}{scores.articles:>6}",
        f"{'recall':<20}{scores.recall:>6.3f}  ({scores.found} of {scores.gold_segments} gold quoted segments)",
        f"{'precision':<20}{scores.precision:>6.3f}  ({scores.extracted_right} of {scores.extracted} extracted quotes)",
        f"{'speaker agreement':<20}{scores.speaker:>6.3f}"
        f"  ({scores.speaker_agreeing} of {scores.speaker_scored} named)",
    ]
    by_cause: dict[str, list[Miss]] = defaultdict(list)
    for miss in scores.misses:
        by_cause[miss.cause].append(miss)
    causes = sorted(by_cause.items(), key=lambda kv: -len(kv[1]))
    lines += [f"  {len(group):>4}  {cause}" for cause, group in causes]
    if misses:
        for cause, group in causes:
            lines.append(f"\n== {cause} ({len(group)})")
            lines += [
                f"- {m.article}: {m.quote[:80]!r} gold={m.gold_speaker!r} got={m.predicted_speaker!r}"
                f"\n    … {m.context} …"
                for m in group
            ]
    return "\n".join(lines)


RATES = ("recall", "precision", "speaker")


def spread(scores: Mapping[str, PolnearScores]) -> dict[str, float]:
    """Per rate, the first folder's figure minus the second's (dev minus train: how far dev's figure generalizes)."""
    first, second = list(scores.values())[:2]
    return {rate: round(getattr(first, rate) - getattr(second, rate), 4) for rate in RATES}


def comparison_json(scores: Mapping[str, PolnearScores]) -> str:
    """`--compare --json`: each folder's scores without misses, and the spread."""
    folders = {name: {k: v for k, v in asdict(s).items() if k != "misses"} for name, s in scores.items()}
    return json.dumps({"folders": folders, "spread": spread(scores)}, indent=2)


def format_comparison(scores: Mapping[str, PolnearScores], *, misses: bool = False) -> str:
    """Two folders side by side (say dev and train), their counts, and the spread of each rate."""
    names = list(scores)
    width = max(12, *(len(n) + 2 for n in names))
    lines = [f"{'':<20}" + "".join(f"{n:>{width}}" for n in names) + f"{'spread':>10}"]
    counts = {
        "articles": lambda s: s.articles,
        "gold segments": lambda s: s.gold_segments,
        "extracted": lambda s: s.extracted,
        "named speakers": lambda s: s.speaker_scored,
    }
    lines += [f"{label:<20}" + "".join(f"{get(scores[n]):>{width}}" for n in names) for label, get in counts.items()]
    gaps = spread(scores)
    lines += [
        f"{rate:<20}" + "".join(f"{getattr(scores[n], rate):>{width}.3f}" for n in names) + f"{gaps[rate]:>+10.3f}"
        for rate in RATES
    ]
    if misses:
        lines += [f"\n=== {name}\n{format_polnear(scores[name], misses=True)}" for name in names]
    return "\n".join(lines)
