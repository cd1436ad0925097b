"""Row types shared between stages: what NLP stages produce and `store` loads (columns match schemas/*.sql)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# How a row of each validated table is named in quarantine (table, record_id).
RECORD_ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "articles": ("article_id",),
    "entities": ("entity_id",),
    "entity_mentions": ("article_id", "start_char", "end_char"),
    "quotes": ("quote_id",),
}


def record_id(table: str, row: Mapping[str, Any]) -> str:
    return ":".join(str(row[column]) for column in RECORD_ID_COLUMNS[table])


@dataclass(frozen=True, slots=True)
class ArticleText:
    """What the NLP stages read of an article: `body_text` is paragraphs joined by a blank line, no title, no dateline."""

    article_id: str
    body_text: str
    language: str | None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    """One real-world entity; `entity_id` is derived from a normalized key so every run agrees on it."""

    entity_id: str
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class EntityAlias:
    entity_id: str
    alias: str


@dataclass(frozen=True, slots=True)
class EntityMention:
    """A mention; `body_text[start_char:end_char] == mention_text` (0-based Python indices)."""

    article_id: str
    entity_id: str
    mention_text: str
    start_char: int
    end_char: int
    sentence_index: int
    label: str


@dataclass(frozen=True, slots=True)
class Quote:
    """A quotation and its speaker; offsets index `articles.body_text`, speaker offsets may be None when implicit."""

    quote_id: str
    article_id: str
    quote_text: str
    start_char: int
    end_char: int
    speaker_text: str | None
    speaker_start: int | None
    speaker_end: int | None
    speaker_entity_id: str | None
    cue: str | None
    kind: str  # "direct" or "partial"
    confidence: float
    method: str
