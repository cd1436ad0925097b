"""Score quote extraction against hand-made gold: quote precision/recall/F1, speaker accuracy, scare quotes kept out.

A predicted quote matches a gold quote when their normalized texts share a run of at least 80% of the gold
text; each gold and each prediction is matched at most once. Gold marked `required=false` (borderline cases)
is neutral: matching it neither helps recall nor costs precision. Speaker accuracy counts matched required
quotes whose resolved entity's canonical name equals the gold speaker (gold `null`: no entity may be claimed).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from pipelines.nlp.entities import AliasRules, load_alias_rules, resolve
from pipelines.nlp.mentions import link_article
from pipelines.nlp.model import ParsedArticle, load_pipeline, parse
from pipelines.nlp.quotes.extract import extract_quotes
from pipelines.nlp.quotes.learned import SpanJudge
from pipelines.records import ArticleText, Entity, Quote

MATCH_MIN_GOLD_SHARE = 0.8
# The gold is written for English articles, whatever language detection would say of a short fixture.
GOLD_LANGUAGE = "en"
_NON_WORD = re.compile(r"[\W_]+")
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class QuoteError:
    """One disagreement with the gold, for the report."""

    seed: str
    what: str  # "missed", "extra", "wrong-speaker", "not-quote-extracted"
    quote: str
    gold_speaker: str | None = None
    predicted_speaker: str | None = None


@dataclass(frozen=True, slots=True)
class QuoteScores:
    """Counts and rates for one gold file; precision counts predictions matching no gold quote as false."""

    gold_required: int
    predicted: int
    true_positives: int
    false_positives: int
    precision: float
    recall: float
    f1: float
    speaker_correct: int
    speaker_accuracy: float
    not_quotes: int
    not_quotes_extracted: int
    errors: tuple[QuoteError, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        """What `newsflow eval quotes --json` prints."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


def normalize_quote(text: str) -> str:
    """Case, quote marks, punctuation and spacing never decide a match."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).lower()).split())


def normalize_name(name: str) -> str:
    return normalize_quote(_LEADING_ARTICLE.sub("", name))


def gold_share(gold: str, predicted: str) -> float:
    """Share of the normalized gold text covered by the longest run it shares with the prediction."""
    gold_n, pred_n = normalize_quote(gold), normalize_quote(predicted)
    if not gold_n:
        return 0.0
    match = SequenceMatcher(None, gold_n, pred_n, autojunk=False).find_longest_match(0, len(gold_n), 0, len(pred_n))
    return match.size / len(gold_n)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def article_quotes(
    parsed: ParsedArticle, rules: AliasRules, judge: SpanJudge | None = None
) -> tuple[list[Quote], Mapping[str, Entity]]:
    """The pipeline's entity and quote steps on one parse, so speakers are scored on the names it resolves.

    Each article is resolved alone: a gold speaker is named in its own article, never by another's. `judge`
    is the learned model's stand-in (extract_quotes), for training.
    """
    batch = resolve([link_article(parsed)], rules=rules)
    entities = {e.entity_id: e for e in batch.entities}
    if parsed.doc is None:
        return [], entities
    return extract_quotes(parsed.doc, parsed.article, batch.mentions, entities, judge), entities


def _match(gold: Sequence[dict[str, Any]], predicted: Sequence[Quote]) -> dict[int, int]:
    """Gold index -> prediction index, best overlaps first, each side used once."""
    pairs = sorted(
        ((gold_share(g["quote"], p.quote_text), gi, pi) for gi, g in enumerate(gold) for pi, p in enumerate(predicted)),
        reverse=True,
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for share, gi, pi in pairs:
        if share >= MATCH_MIN_GOLD_SHARE and gi not in matched and pi not in used:
            matched[gi] = pi
            used.add(pi)
    return matched


def ratio(num: float, den: float) -> float:
    """num / den, 0.0 when there is nothing to divide by (no gold, no prediction)."""
    return num / den if den else 0.0


def evaluate_quotes(
    gold_path: Path,
    not_quotes_path: Path | None,
    texts_dir: Path,
    *,
    model: str,
    alias_file: Path,
) -> QuoteScores:
    """Run extraction with spaCy pipeline `model` on every article the gold names (raw text as body) and score it."""
    gold = read_jsonl(gold_path)
    not_quotes = read_jsonl(not_quotes_path) if not_quotes_path else []
    rules = load_alias_rules(alias_file)
    by_seed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in gold:
        by_seed[row["seed"]].append(row)
    counts: dict[str, int] = defaultdict(int)
    errors: list[QuoteError] = []
    seeds = sorted({*by_seed, *(row["seed"] for row in not_quotes)})
    articles = [ArticleText(seed, (texts_dir / seed).read_text(encoding="utf-8"), GOLD_LANGUAGE) for seed in seeds]
    for parsed in parse(load_pipeline(model), articles):
        seed = parsed.article.article_id
        predicted, entities = article_quotes(parsed, rules)
        unmatched = _score_article(seed, by_seed[seed], predicted, entities, counts, errors)
        for row in (r for r in not_quotes if r["seed"] == seed):
            counts["not_quotes"] += 1
            if any(gold_share(row["text"], p.quote_text) >= MATCH_MIN_GOLD_SHARE for p in unmatched):
                counts["not_quotes_extracted"] += 1
                errors.append(QuoteError(seed, "not-quote-extracted", row["text"]))
    precision = ratio(counts["tp"], counts["tp"] + counts["fp"])
    recall = ratio(counts["matched_required"], counts["required"])
    return QuoteScores(
        gold_required=counts["required"],
        predicted=counts["predicted"],
        true_positives=counts["tp"],
        false_positives=counts["fp"],
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(ratio(2 * precision * recall, precision + recall), 4),
        speaker_correct=counts["speaker_correct"],
        speaker_accuracy=round(ratio(counts["speaker_correct"], counts["matched_required"]), 4),
        not_quotes=counts["not_quotes"],
        not_quotes_extracted=counts["not_quotes_extracted"],
        errors=tuple(errors),
    )


def _score_article(
    seed: str,
    gold: Sequence[dict[str, Any]],
    predicted: Sequence[Quote],
    entities: Mapping[str, Entity],
    counts: dict[str, int],
    errors: list[QuoteError],
) -> list[Quote]:
    """Add one article's matches to the running counts, record each disagreement, return the unmatched."""
    matched = _match(gold, predicted)
    counts["predicted"] += len(predicted)
    counts["tp"] += sum(1 for gi in matched if gold[gi].get("required", True))
    extras = [p for pi, p in enumerate(predicted) if pi not in matched.values()]
    counts["fp"] += len(extras)
    errors.extend(QuoteError(seed, "extra", p.quote_text, None, p.speaker_text) for p in extras)
    for gi, row in enumerate(gold):
        if not row.get("required", True):
            continue
        counts["required"] += 1
        if gi not in matched:
            errors.append(QuoteError(seed, "missed", row["quote"], row["speaker"]))
            continue
        counts["matched_required"] += 1
        quote = predicted[matched[gi]]
        entity = entities.get(quote.speaker_entity_id or "")
        name = entity.name if entity else None
        if _same_speaker(name, row["speaker"]):
            counts["speaker_correct"] += 1
        else:
            errors.append(QuoteError(seed, "wrong-speaker", row["quote"], row["speaker"], name or quote.speaker_text))
    return extras


def _same_speaker(predicted: str | None, gold: str | None) -> bool:
    """Gold `null` means no entity should be claimed ("a diplomat familiar with the talks")."""
    if gold is None or predicted is None:
        return gold is None and predicted is None
    return normalize_name(predicted) == normalize_name(gold)


def format_table(scores: QuoteScores) -> str:
    """A plain-text summary for the terminal, then the disagreements."""
    lines = [
        f"{'quotes (required gold)':<28}{scores.gold_required:>6}",
        f"{'predicted':<28}{scores.predicted:>6}",
        f"{'precision':<28}{scores.precision:>6.3f}",
        f"{'recall':<28}{scores.recall:>6.3f}",
        f"{'F1':<28}{scores.f1:>6.3f}",
        f"{'speaker accuracy':<28}{scores.speaker_accuracy:>6.3f}  ({scores.speaker_correct} correct)",
        f"{'not-quotes extracted':<28}{scores.not_quotes_extracted:>6}  of {scores.not_quotes}",
    ]
    lines += [
        f"  {e.what:<20} {e.seed}: {e.quote[:70]!r} gold={e.gold_speaker} got={e.predicted_speaker}"
        for e in scores.errors
    ]
    return "\n".join(lines)
