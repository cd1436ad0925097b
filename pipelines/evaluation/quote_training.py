"""Rebuild quote_model.json from a PolNeAR-format folder (the train split): `newsflow train quotes --polnear DIR`.

Every quotation the rules leave unattributed is an example, described by the very features extraction computes
(a recording judge is handed to `extract_quotes`, so training and extraction cannot drift apart). Its label is
the precision rule of the maintainers' scoring: speech when 80 % of its words lie in one attribution's content.
The fit is scikit-learn's logistic regression (a development dependency: only this command needs it); the
weights are written rounded and sorted, so the same split rebuilds the same file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from pipelines.evaluation.polnear import TEXT_DIR, Tokens, in_content, read_polnear
from pipelines.evaluation.quotes import article_quotes
from pipelines.nlp.entities import load_alias_rules
from pipelines.nlp.model import load_pipeline, parse
from pipelines.nlp.quotes.learned import MODEL_FILE
from pipelines.nlp.quotes.marks import QuoteSpan
from pipelines.records import ArticleText

REGULARIZATION = 1.0  # scikit-learn's C; 0.1 to 3 gave the same cross-validated trade-off on the train split
DEFAULT_THRESHOLD = 0.7  # probability of speech to rescue a quotation: precision stays >= 0.97 (README)
WEIGHT_DIGITS = 4
LANGUAGE = "en"


class ModelSpec(TypedDict):
    """What quote_model.json holds: provenance, the threshold and the weights `QuoteModel` reads."""

    about: str
    examples: int
    speech: int
    regularization: float
    threshold: float
    bias: float
    weights: dict[str, float]


@dataclass(slots=True)
class _Recorder:
    """A judge that keeps every quotation it is asked about, with its features, and accepts none."""

    seen: list[tuple[QuoteSpan, list[str]]] = field(default_factory=list)

    def accepts(self, span: QuoteSpan, features: Sequence[str]) -> bool:
        self.seen.append((span, list(features)))
        return False


@dataclass(frozen=True, slots=True)
class Example:
    article: str
    start: int
    end: int
    features: tuple[str, ...]
    speech: bool


def training_examples(folder: Path, *, model: str, alias_file: Path) -> list[Example]:
    """The quotations the rules leave unattributed in every article of the folder, labelled from its gold."""
    by_article = read_polnear(folder)
    rules = load_alias_rules(alias_file)
    articles = [
        ArticleText(name, (folder / TEXT_DIR / f"{name}.txt").read_text(encoding="utf-8"), LANGUAGE)
        for name in by_article
    ]
    examples: list[Example] = []
    for parsed in parse(load_pipeline(model), articles):
        recorder = _Recorder()
        article_quotes(parsed, rules, judge=recorder)
        text, name = parsed.article.body_text, parsed.article.article_id
        tokens = Tokens(text)
        for span, features in recorder.seen:
            speech = in_content(tokens, by_article[name], span.start, span.end)
            examples.append(Example(name, span.start, span.end, tuple(features), speech))
    return examples


def fit(examples: Sequence[Example], threshold: float = DEFAULT_THRESHOLD) -> ModelSpec:
    """Logistic weights per feature, as quote_model.json holds them."""
    try:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # a user's install without the development group
        raise RuntimeError("training needs scikit-learn, a development dependency: run `make setup`") from exc
    if len({e.speech for e in examples}) < 2:
        raise ValueError("training needs quotations of both kinds (speech and not) among the unattributed ones")
    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform([dict.fromkeys(e.features, 1) for e in examples])
    classifier = LogisticRegression(C=REGULARIZATION, max_iter=5000)
    classifier.fit(matrix, [e.speech for e in examples])
    weights = {
        name: round(float(weight), WEIGHT_DIGITS)
        for name, weight in zip(vectorizer.get_feature_names_out(), classifier.coef_[0], strict=True)
        if round(float(weight), WEIGHT_DIGITS)
    }
    return {
        "about": "Quotations no rule attributed: speech or not (pipelines/nlp/quotes/learned.py). "
        "Rebuild: make quote-model",
        "examples": len(examples),
        "speech": sum(e.speech for e in examples),
        "regularization": REGULARIZATION,
        "threshold": threshold,
        "bias": round(float(classifier.intercept_[0]), WEIGHT_DIGITS),
        "weights": dict(sorted(weights.items())),
    }


def train(
    folder: Path, *, model: str, alias_file: Path, out: Path = MODEL_FILE, threshold: float = DEFAULT_THRESHOLD
) -> ModelSpec:
    """Train on the folder and write the model file; returns what was written."""
    spec = fit(training_examples(folder, model=model, alias_file=alias_file), threshold)
    out.write_text(json.dumps(spec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return spec
