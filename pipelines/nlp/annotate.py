"""The NLP stage of a batch: one spaCy parse per article, then entities and quotes from that parse.

Runs where the batch is staged (in parallel, no database). Each article is resolved alone, so what a
stage writes for an article never depends on the batch, shard or history it came with: its mentions
carry the ids the article itself gives its entities, and speakers link to those. Resolution across
articles (types voted by all of them, bare surnames joining full names, canonical names) is the
load's, over every stored article (pipelines.storage.load).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from pipelines.config import EventConfig, Settings
from pipelines.failures import refusal
from pipelines.nlp.entities import AliasRules, load_alias_rules, resolve
from pipelines.nlp.mentions import link_article
from pipelines.nlp.model import load_pipeline, parse
from pipelines.nlp.quotes.extract import extract_batch
from pipelines.nlp.terms import article_terms, rarity
from pipelines.records import (
    ArticleRow,
    ArticleTerms,
    ArticleText,
    Entity,
    EntityAlias,
    EntityMention,
    Quote,
    Rejection,
)
from pipelines.tables import ANNOTATION_TABLES, rows_by_table
from pipelines.text.language import language_detector
from pipelines.workers import Mapper

# Articles parsed together (one `nlp.pipe` call): a constant, so a parse never depends on the worker count.
# Small, so the pieces left when one worker runs out of work are short (a parse costs the same per article
# from 4 articles a call up).
PARSE_CHUNK = 4


@dataclass(slots=True)
class Annotations:
    articles: list[ArticleRow]  # with nlp_skip_reason set where the model could not read the article
    entities: list[Entity] = field(default_factory=list)
    aliases: list[EntityAlias] = field(default_factory=list)
    mentions: list[EntityMention] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    terms: list[ArticleTerms] = field(default_factory=list)  # what the load's events step compares articles on
    rejections: list[Rejection] = field(default_factory=list)  # articles annotating failed on (pipelines.failures)

    @classmethod
    def joined(cls, parts: Sequence[Annotations]) -> Annotations:
        """The annotations of several chunks as one, in their order."""
        return cls(
            articles=[row for part in parts for row in part.articles],
            entities=[entity for part in parts for entity in part.entities],
            aliases=[alias for part in parts for alias in part.aliases],
            mentions=[mention for part in parts for mention in part.mentions],
            quotes=[quote for part in parts for quote in part.quotes],
            terms=[terms for part in parts for terms in part.terms],
            rejections=[rejection for part in parts for rejection in part.rejections],
        )

    def tables(self) -> dict[str, list[object]]:
        """The rows of every annotation table (pipelines.tables), by their record type."""
        return rows_by_table(
            [*self.entities, *self.aliases, *self.mentions, *self.quotes, *self.terms], ANNOTATION_TABLES
        )


def load_models(spacy_model: str) -> None:
    """Load what annotating needs once per process: a worker pool runs this before it forks (or in each worker)."""
    load_pipeline(spacy_model)
    language_detector()
    rarity("news")  # wordfreq's English frequencies, read on first use


def annotate(
    articles: Sequence[ArticleRow],
    settings: Settings,
    map_: Mapper = map,
    meanwhile: Callable[[], object] | None = None,
) -> Annotations:
    """Entities, quotes and salient terms of a batch, from one parse each, every article resolved alone.

    Articles go to `map_` (the builtin map or a worker pool's) in chunks of a fixed size, parsed
    together: the chunks never depend on how many workers there are. The longest chunks go first, so
    the round ends on short ones and no worker waits long for the last. `meanwhile` runs in this
    process while a pool's workers parse, the longest round of a stage.
    """
    chunks = [articles[start : start + PARSE_CHUNK] for start in range(0, len(articles), PARSE_CHUNK)]
    longest_first = sorted(range(len(chunks)), key=lambda i: -sum(len(row.body_text) for row in chunks[i]))
    rules = load_alias_rules(settings.alias_file)
    parsed = map_(
        annotate_chunk,
        [chunks[i] for i in longest_first],
        [settings.spacy_model] * len(chunks),
        [rules] * len(chunks),
        [settings.events] * len(chunks),
    )
    if meanwhile and chunks:
        meanwhile()
    by_chunk = dict(zip(longest_first, parsed, strict=True))
    return Annotations.joined([part for i in range(len(chunks)) for part in by_chunk[i]])


def annotate_chunk(
    articles: Sequence[ArticleRow], spacy_model: str, rules: AliasRules, events: EventConfig
) -> list[Annotations]:
    """Each article's annotations, from one parse of the chunk (at most PARSE_CHUNK articles), each resolved alone.

    When the chunk fails, each article is annotated alone, and one that fails alone is refused with the reason
    (`pipelines.failures`): a pathological article never costs the others their entities and quotes.
    """
    try:
        return _annotate_together(articles, spacy_model, rules, events)
    except Exception as exc:
        reason = refusal("annotating", exc, articles[0].uri if len(articles) == 1 else None)
        if len(articles) == 1:
            return [
                Annotations([], rejections=[Rejection(articles[0].raw_id, "annotate", reason, articles[0].item_key)])
            ]
    return [part for row in articles for part in annotate_chunk([row], spacy_model, rules, events)]


def _annotate_together(
    articles: Sequence[ArticleRow], spacy_model: str, rules: AliasRules, events: EventConfig
) -> list[Annotations]:
    texts = [ArticleText(row.article_id, row.body_text, row.language, row.title) for row in articles]
    annotations = []
    for row, item in zip(articles, parse(load_pipeline(spacy_model), texts), strict=True):
        batch = resolve([link_article(item)], rules)
        skipped = dict(batch.skipped)
        annotations.append(
            Annotations(
                [replace(row, nlp_skip_reason=skipped.get(row.article_id))],
                list(batch.entities),
                list(batch.aliases),
                list(batch.mentions),
                extract_batch([item], batch.mentions, batch.entities),
                [article_terms(row.article_id, row.raw_id, item.doc, events)] if item.doc else [],
            )
        )
    return annotations
