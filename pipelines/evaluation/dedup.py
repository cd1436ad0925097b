"""Labelled pairs built from real article text, and the precision/recall of dedup on them.

Positives are the copies news really produces: a new headline, site chrome added around the body,
a paragraph added or dropped, typos and spelling variants, punctuation and quote styles, and all of
these at once. Negatives are what must stay apart: different articles, a follow-up that repeats some
background paragraphs, an article sharing one quoted paragraph with another outlet's story, and two
short briefs that share only a site template. Variants are made with a seeded RNG, so a run is
reproducible; the source texts are the expected texts of the news-html fixtures (any real news works).
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pipelines.config import DedupConfig
from pipelines.dedup.signatures import (
    DedupEntry,
    make_entry,
    normalize_for_hash,
    shingle_hashes,
    tokens,
)
from pipelines.dedup.stories import relation

NEWS_HTML_TEXT_GLOBS = ("newspaper4k/tests/data/txt/*.txt",)
NEWS_HTML_JSON_GLOBS = ("goose3/tests/data/*/*.json",)
SOURCE_MIN_TOKENS = 20
DEFAULT_DEDUP = DedupConfig()  # the configuration the sweep varies, one parameter at a time
# Two fixture texts sharing this much of the smaller one's shingles are one story (or a summary of
# it): only the first is kept, so "different article" negatives are really different.
SOURCE_MAX_CONTAINMENT = 0.3
TYPO_EVERY_WORDS = 40
# Briefs of 10-45 tokens inside one site's template (a header and two footers, ~40 words): the
# template can outweigh the text, which is what the token floor and the threshold must withstand.
SHORT_BRIEF_TOKENS = (10, 45)
FOLLOW_UP_REPEATED_SHARE = 0.3
MIN_PARAGRAPHS_TO_REUSE = 4
# A small edit adds or drops at most this share of a text's tokens.
EDIT_MAX_SHARE = 0.2
HEADLINE_MAX_CHARS = 90
EVAL_TIME = datetime(2024, 1, 1, tzinfo=UTC)


# Site chrome in the shapes it takes around extracted bodies (headers, widgets, footers).
BOILERPLATE_HEADERS = (
    "Advertisement",
    "Share this article on Facebook, Twitter, LinkedIn or by email",
    "Breaking News | Live Updates | Newsletters | Podcasts | Video",
    "This article was originally published by our partner news agency and is republished with permission.",
    "Listen to this article · 4 min",
)
BOILERPLATE_FOOTERS = (
    "Sign up for our daily newsletter to get the day's top stories delivered straight to your inbox every morning.",
    "© 2024 Example Media Group. All rights reserved."
    " This material may not be published, broadcast, rewritten or redistributed.",
    "Follow us on Twitter, Facebook and Instagram for the latest news, and download our app for breaking news alerts.",
    "Related coverage: What we know so far | Timeline of events | Reactions from around the world",
    "Have a news tip? Contact our newsroom by email or through our secure tip line. We read every message.",
)
# Spelling pairs editors change between house styles.
SPELLING_VARIANTS = {
    "color": "colour",
    "center": "centre",
    "organization": "organisation",
    "defense": "defence",
    "analyze": "analyse",
    "percent": "per cent",
    "program": "programme",
    "favor": "favour",
}
_PARAGRAPH_BREAK = re.compile(r"\s*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+|(?<=[。！？।॥])\s*")
_STRAIGHT_TO_CURLY = str.maketrans({'"': "“", "'": "’"})
_CURLY_TO_STRAIGHT = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


@dataclass(frozen=True, slots=True)
class LabelledPair:
    kind: str
    left: str
    right: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class DedupScores:
    """Pair-level scores; `per_kind` maps a kind to (pairs predicted duplicate, pairs)."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    per_kind: dict[str, tuple[int, int]]


# --- sources ------------------------------------------------------------------------------------


def _fixture_texts(news_html_dir: Path) -> Iterable[str]:
    for pattern in NEWS_HTML_TEXT_GLOBS:
        for path in sorted(news_html_dir.glob(pattern)):
            yield path.read_text(encoding="utf-8")
    for pattern in NEWS_HTML_JSON_GLOBS:
        for path in sorted(news_html_dir.glob(pattern)):
            expected = json.loads(path.read_text(encoding="utf-8")).get("expected") or {}
            text = expected.get("cleaned_text")
            if isinstance(text, str):
                yield text


def _shingle_set(text: str) -> set[int]:
    return set(shingle_hashes(tokens(normalize_for_hash(text)), DEFAULT_DEDUP.shingle_size).tolist())


def distinct_texts(texts: Iterable[str]) -> list[str]:
    """Texts long enough to vary, minus any that largely repeats an earlier one (the same story twice)."""
    kept: list[str] = []
    kept_shingles: list[set[int]] = []
    for text in texts:
        if len(tokens(normalize_for_hash(text))) < SOURCE_MIN_TOKENS:
            continue
        shingles = _shingle_set(text)
        if any(
            len(shingles & other) > SOURCE_MAX_CONTAINMENT * min(len(shingles), len(other)) for other in kept_shingles
        ):
            continue
        kept.append(text.strip())
        kept_shingles.append(shingles)
    return kept


def load_source_texts(news_html_dir: Path) -> list[str]:
    """Real article bodies: the expected texts of the newspaper4k and goose3 fixtures, distinct stories only."""
    return distinct_texts(_fixture_texts(news_html_dir))


# --- variants -----------------------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    return [part.strip() for part in _PARAGRAPH_BREAK.split(text) if part.strip()]


def _join(parts: Sequence[str]) -> str:
    return "\n\n".join(parts)


def _clip(text: str, max_chars: int) -> str:
    """At most `max_chars`, cut at a space where the script has them."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


def _token_count(text: str) -> int:
    return len(tokens(normalize_for_hash(text)))


def _clip_tokens(text: str, max_tokens: int) -> str:
    """About `max_tokens` tokens of `text` (a character share: exact enough for building variants)."""
    count = _token_count(text)
    return text if count <= max_tokens else _clip(text, max(1, len(text) * max_tokens // count))


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def _headline(text: str, rng: random.Random) -> str:
    """A headline-length line in the article's own words and language: one of its sentences, clipped."""
    return _clip(rng.choice(sentences(text)), HEADLINE_MAX_CHARS).rstrip(".,;:。")


def _passages(text: str) -> list[str]:
    """Paragraphs, or sentences when the text has too few paragraphs to reuse one without reusing it all."""
    parts = paragraphs(text)
    return parts if len(parts) >= MIN_PARAGRAPHS_TO_REUSE else sentences(" ".join(parts))


def with_headline(text: str, headline: str) -> str:
    """Extractors that keep the title put it first: a copy differs from its original in that line."""
    return _join([headline, text])


def with_boilerplate(text: str, rng: random.Random) -> str:
    return _join([rng.choice(BOILERPLATE_HEADERS), text, rng.choice(BOILERPLATE_FOOTERS)])


def with_paragraph_added(text: str, extra: str, rng: random.Random) -> str:
    parts = paragraphs(text)
    parts.insert(rng.randint(1, len(parts)), extra)
    return _join(parts)


def with_paragraph_dropped(text: str, rng: random.Random) -> str:
    """One passage fewer (a paragraph, or a sentence when paragraphs are few), and a small one: an edit
    that removes a third of the text makes another text, not a copy."""
    parts = _passages(text)
    if len(parts) < 2:
        return text
    limit = EDIT_MAX_SHARE * sum(map(len, parts))
    small = [index for index, part in enumerate(parts) if len(part) <= limit]
    del parts[rng.choice(small) if small else min(range(len(parts)), key=lambda index: len(parts[index]))]
    return _join(parts)


def _typo(word: str, rng: random.Random) -> str:
    lowered = word.lower()
    if lowered in SPELLING_VARIANTS:
        return SPELLING_VARIANTS[lowered]
    if len(word) < 4:
        return word
    position = rng.randrange(1, len(word) - 2)
    if rng.random() < 0.5:
        return word[:position] + word[position + 1] + word[position] + word[position + 2 :]
    return word[:position] + word[position + 1 :]


def with_typos(text: str, rng: random.Random) -> str:
    """About one misspelt word in TYPO_EVERY_WORDS, in place, so paragraph breaks survive."""
    pieces = re.split(r"(\s+)", text)
    word_positions = [index for index, piece in enumerate(pieces) if piece and not piece.isspace()]
    for index in rng.sample(word_positions, max(1, len(word_positions) // TYPO_EVERY_WORDS)):
        pieces[index] = _typo(pieces[index], rng)
    return "".join(pieces)


def with_punctuation_changed(text: str) -> str:
    """Another house style: curly or straight quotes swapped, no serial commas, spaced dashes, reflowed."""
    swapped = text.translate(_CURLY_TO_STRAIGHT) if "“" in text or "’" in text else text.translate(_STRAIGHT_TO_CURLY)
    return " ".join(swapped.replace(", and", " and").replace(" - ", " — ").replace(";", ",").split(" "))


def follow_up(text: str, other: str, rng: random.Random) -> str:
    """A later story: its own paragraphs, then background passages of the earlier one, a minority of it."""
    budget = int(FOLLOW_UP_REPEATED_SHARE * _token_count(text))
    repeated: list[str] = []
    for passage in rng.sample(_passages(text), len(_passages(text))):
        if sum(map(_token_count, repeated)) + _token_count(passage) <= budget:
            repeated.append(passage)
    return _join([*paragraphs(other), *(repeated or [_clip_tokens(_passages(text)[0], budget)])])


def shared_quote(text: str, other: str, rng: random.Random) -> str:
    """Another outlet's story on the same event: its own text quoting one short passage of the first."""
    quote = _clip_tokens(rng.choice(_passages(text)), int(EDIT_MAX_SHARE * _token_count(text)))
    return with_paragraph_added(other, quote, rng)


def short_brief(text: str, template: Sequence[str], rng: random.Random) -> str:
    """The opening of `text` as a brief, between the site template's header and footers."""
    brief = _clip_tokens(" ".join(paragraphs(text)), rng.randint(*SHORT_BRIEF_TOKENS))
    return _join([template[0], brief, *template[1:]])


def build_labelled_pairs(texts: Sequence[str], seed: int) -> list[LabelledPair]:
    """Per source text, one pair of each positive and negative kind, against randomly chosen other texts."""
    rng = random.Random(seed)
    pairs: list[LabelledPair] = []
    for index, text in enumerate(texts):
        other = texts[(index + rng.randrange(1, len(texts))) % len(texts)]
        added = _clip_tokens(rng.choice(paragraphs(other)), int(EDIT_MAX_SHARE * _token_count(text)))
        original_headline = _headline(text, rng)
        template = [rng.choice(BOILERPLATE_HEADERS), *rng.sample(BOILERPLATE_FOOTERS, 2)]
        combined = with_typos(with_boilerplate(with_paragraph_dropped(text, rng), rng), rng)
        positives = {
            "headline": (with_headline(text, original_headline), with_headline(text, _headline(text, rng))),
            "boilerplate": (text, with_boilerplate(text, rng)),
            "paragraph_added": (text, with_paragraph_added(text, added, rng)),
            "paragraph_dropped": (text, with_paragraph_dropped(text, rng)),
            "typos": (text, with_typos(text, rng)),
            "punctuation": (text, with_punctuation_changed(text)),
            "combined": (
                with_headline(text, original_headline),
                with_headline(with_punctuation_changed(combined), _headline(text, rng)),
            ),
        }
        negatives = {
            "different": (text, other),
            "follow_up": (text, follow_up(text, other, rng)),
            "shared_quote": (text, shared_quote(text, other, rng)),
            "short_shared_boilerplate": (short_brief(text, template, rng), short_brief(other, template, rng)),
        }
        pairs.extend(LabelledPair(kind, left, right, True) for kind, (left, right) in positives.items())
        pairs.extend(LabelledPair(kind, left, right, False) for kind, (left, right) in negatives.items())
    return pairs


def fixed_negative_pairs(texts: Sequence[str], kind: str) -> list[LabelledPair]:
    """Every pair of texts known to be distinct stories (e.g. the seeds, two of which cover one meeting)."""
    return [LabelledPair(kind, left, right, False) for left, right in itertools.combinations(texts, 2)]


# --- scoring ------------------------------------------------------------------------------------


def _entries(cfg: DedupConfig, pair: LabelledPair) -> tuple[DedupEntry, DedupEntry]:
    return make_entry("left", pair.left, EVAL_TIME, cfg), make_entry("right", pair.right, EVAL_TIME, cfg)


def _score(predicted: Sequence[bool], pairs: Sequence[LabelledPair]) -> DedupScores:
    outcome = Counter((pair.duplicate, guess) for pair, guess in zip(pairs, predicted, strict=True))
    tp, fp, fn, tn = outcome[True, True], outcome[False, True], outcome[True, False], outcome[False, False]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per_kind: dict[str, tuple[int, int]] = {}
    for pair, guess in zip(pairs, predicted, strict=True):
        merged, total = per_kind.get(pair.kind, (0, 0))
        per_kind[pair.kind] = (merged + guess, total + 1)
    return DedupScores(precision, recall, f1, tp, fp, fn, tn, per_kind)


def _predict(cfg: DedupConfig, entries: Sequence[tuple[DedupEntry, DedupEntry]]) -> list[bool]:
    return [relation(left, right, cfg) is not None for left, right in entries]


def evaluate_dedup(cfg: DedupConfig, pairs: Sequence[LabelledPair]) -> DedupScores:
    """Would dedup link each pair (LSH banding included)? Scored against the labels."""
    return _score(_predict(cfg, [_entries(cfg, pair) for pair in pairs]), pairs)


def sweep(
    pairs: Sequence[LabelledPair],
    shingle_sizes: Iterable[int] = (3, 4, 5, 7),
    min_tokens: Iterable[int] = (20, 30, 50, 80),
    thresholds: Iterable[float] = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9),
    bandings: Iterable[tuple[int, int]] = ((32, 4), (16, 8), (64, 2), (20, 5)),
    base: DedupConfig = DEFAULT_DEDUP,
) -> list[tuple[DedupConfig, DedupScores]]:
    """Scores over a grid; sketches are made once per (shingle size, token floor) and reused."""
    results = []
    threshold_grid, banding_grid = tuple(thresholds), tuple(bandings)
    for size, floor in itertools.product(shingle_sizes, min_tokens):
        sketched = replace(base, shingle_size=size, min_tokens=floor)
        entries = [_entries(sketched, pair) for pair in pairs]
        for threshold, (bands, rows) in itertools.product(threshold_grid, banding_grid):
            cfg = replace(sketched, threshold=threshold, bands=bands, rows=rows)
            results.append((cfg, _score(_predict(cfg, entries), pairs)))
    return results


def format_scores(scores: DedupScores) -> str:
    lines = [
        f"precision {scores.precision:.3f}  recall {scores.recall:.3f}  F1 {scores.f1:.3f}  "
        f"(tp {scores.true_positives}, fp {scores.false_positives},"
        f" fn {scores.false_negatives}, tn {scores.true_negatives})"
    ]
    lines += [f"  {kind:<26} linked {merged:>3} / {total}" for kind, (merged, total) in sorted(scores.per_kind.items())]
    return "\n".join(lines)


def format_sweep(results: Iterable[tuple[DedupConfig, DedupScores]]) -> str:
    header = "shingle min_tok bands x rows threshold precision recall    F1"
    rows = [
        f"{cfg.shingle_size:>7} {cfg.min_tokens:>7} {cfg.bands:>5} x {cfg.rows:<4} {cfg.threshold:>9.2f} "
        f"{scores.precision:>9.3f} {scores.recall:>6.3f} {scores.f1:>6.3f}"
        for cfg, scores in results
    ]
    return "\n".join([header, *rows])


def eval_pairs(shared_dir: Path, seed: int = 0) -> list[LabelledPair]:
    """The pairs `newsflow eval dedup` scores: variants of the news-html texts plus every seed pair."""
    seeds = [path.read_text(encoding="utf-8") for path in sorted((shared_dir / "seeds").glob("*.txt"))]
    texts = load_source_texts(shared_dir / "corpora" / "news-html")
    return [*build_labelled_pairs(texts, seed), *fixed_negative_pairs(seeds, "seed_pair")]
