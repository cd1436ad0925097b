"""Staged batches shaped like the normalizer's and NLP stages' output, for the quality tests and bench/bench_quality.py.

Every row is valid as built; tests break one value at a time to see exactly that row rejected.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from pipelines.storage.staging import Validation

FETCHED_AT = pd.Timestamp("2026-11-20T12:00:00Z")
# A verdict that refused nothing: what a test that loads rows by hand hands the load.
PASSED = Validation.passed()
SPEAKERS = ("Maria Lopez", "Olaf Berg", "Aiko Tanaka", "Samuel Okafor")
PARAGRAPH = (
    "{speaker} told reporters on Tuesday that the council would review the budget for article {n}. "
    '"We will publish every figure before the vote," {speaker} said, adding that the review could take weeks. '
    "Opposition members asked for an independent audit and more time to read the documents."
)


def _entity_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _article(n: int, source_id: str) -> dict[str, object]:
    speaker = SPEAKERS[n % len(SPEAKERS)]
    body = "\n\n".join(PARAGRAPH.format(speaker=speaker, n=f"{n}-{part}") for part in range(3))
    return {
        "article_id": f"a{n:05d}",
        "raw_id": f"r{n:05d}",
        "source_id": source_id,
        "url": f"https://news.example.org/{source_id}/{n}",
        "uri": f"https://news.example.org/{source_id}/{n}",
        "title": f"Council to review budget ({n})",
        "title_missing": False,
        "published_at": FETCHED_AT - pd.Timedelta(hours=n % 48 + 1),
        "fetched_at": FETCHED_AT,
        "language": "en",
        "body_text": body,
        "word_count": len(body.split()),
        "content_hash": hashlib.sha256(body.encode()).hexdigest(),
        "extractor": "trafilatura",
    }


def _mentions(article: dict[str, object]) -> list[dict[str, object]]:
    body = str(article["body_text"])
    speaker = next(name for name in SPEAKERS if name in body)
    rows, start = [], body.find(speaker)
    while start >= 0:
        rows.append(
            {
                "article_id": article["article_id"],
                "entity_id": _entity_id(speaker),
                "mention_text": speaker,
                "start_char": start,
                "end_char": start + len(speaker),
                "sentence_index": body.count(". ", 0, start),
                "label": "PERSON",
            }
        )
        start = body.find(speaker, start + 1)
    return rows


def _quote(article: dict[str, object]) -> dict[str, object]:
    body = str(article["body_text"])
    text = "We will publish every figure before the vote,"
    start = body.find(text)
    speaker = next(name for name in SPEAKERS if name in body)
    return {
        "quote_id": f"q{article['article_id']}",
        "article_id": article["article_id"],
        "quote_text": text,
        "start_char": start,
        "end_char": start + len(text),
        "speaker_entity_id": _entity_id(speaker),
        "confidence": 0.9,
        "kind": "direct",
    }


def make_batch(articles: int = 100, sources: tuple[str, ...] = ("wire", "daily")) -> dict[str, pd.DataFrame]:
    """A valid batch: `articles` articles spread over `sources`, their mentions, one quote each, the speakers."""
    rows = [_article(n, sources[n % len(sources)]) for n in range(articles)]
    frame = pd.DataFrame(rows)
    for column in ("published_at", "fetched_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return {
        "articles": frame,
        "entities": pd.DataFrame(
            [{"entity_id": _entity_id(name), "name": name, "type": "PERSON"} for name in SPEAKERS]
        ),
        "entity_mentions": pd.DataFrame([mention for row in rows for mention in _mentions(row)]),
        "quotes": pd.DataFrame([_quote(row) for row in rows]),
    }
