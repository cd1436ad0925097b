"""The NLP stage of a batch: one spaCy parse per article, then entities and quotes from that parse.

Runs where the batch is staged (in parallel, no database): known entities come in from the
published read-only copy so names resolve to the ids earlier runs gave them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pipelines.config import Settings
from pipelines.nlp.entities import KnownEntities, load_alias_rules, resolve
from pipelines.nlp.mentions import link_article
from pipelines.nlp.model import load_pipeline, parse
from pipelines.nlp.quotes.extract import extract_batch
from pipelines.records import (
    ArticleRow,
    ArticleText,
    Entity,
    EntityAlias,
    EntityMention,
    Quote,
)


@dataclass(slots=True)
class Annotations:
    articles: list[ArticleRow]  # with nlp_skip_reason set where the model could not read the article
    entities: list[Entity] = field(default_factory=list)
    aliases: list[EntityAlias] = field(default_factory=list)
    mentions: list[EntityMention] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)

    def tables(self) -> dict[str, list[object]]:
        return {"entities": list(self.entities), "entity_aliases": list(self.aliases),
                "entity_mentions": list(self.mentions), "quotes": list(self.quotes)}


def annotate(articles: Sequence[ArticleRow], known: KnownEntities, settings: Settings) -> Annotations:
    """Entities (resolved against `known` and the alias file) and quotes of a batch, from one parse each."""
    if not articles:
        return Annotations([])
    texts = [ArticleText(row.article_id, row.body_text, row.language, row.title) for row in articles]
    parsed = list(parse(load_pipeline(settings.spacy_model), texts))
    batch = resolve([link_article(item) for item in parsed], known, load_alias_rules(settings.alias_file))
    skipped = dict(batch.skipped)
    return Annotations(
        articles=[replace(row, nlp_skip_reason=skipped.get(row.article_id)) for row in articles],
        entities=list(batch.entities),
        aliases=list(batch.aliases),
        mentions=list(batch.mentions),
        quotes=extract_batch(parsed, batch.mentions, batch.entities),
    )
