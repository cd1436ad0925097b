"""The NLP stage of a batch: one spaCy parse per article, then entities and quotes from that parse.

Runs where the batch is staged (in parallel, no database). Each article is resolved alone, so what a
stage writes for an article never depends on the batch, shard or history it came with: its mentions
carry the ids the article itself gives its entities, and speakers link to those. Resolution across
articles (types voted by all of them, bare surnames joining full names, canonical names) is the
load's, over every stored article (pipelines.storage.load).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pipelines.config import Settings
from pipelines.nlp.entities import load_alias_rules, resolve
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


def annotate(articles: Sequence[ArticleRow], settings: Settings) -> Annotations:
    """Entities and quotes of a batch, from one parse each, every article resolved alone with the alias file."""
    if not articles:
        return Annotations([])
    texts = [ArticleText(row.article_id, row.body_text, row.language, row.title) for row in articles]
    rules = load_alias_rules(settings.alias_file)
    alone = [(item, resolve([link_article(item)], rules)) for item in parse(load_pipeline(settings.spacy_model), texts)]
    skipped = {article_id: reason for _, batch in alone for article_id, reason in batch.skipped}
    return Annotations(
        articles=[replace(row, nlp_skip_reason=skipped.get(row.article_id)) for row in articles],
        entities=[entity for _, batch in alone for entity in batch.entities],
        aliases=[alias for _, batch in alone for alias in batch.aliases],
        mentions=[mention for _, batch in alone for mention in batch.mentions],
        quotes=[quote for item, batch in alone for quote in extract_batch([item], batch.mentions, batch.entities)],
    )
