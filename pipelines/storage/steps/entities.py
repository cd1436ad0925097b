"""The load's entity step: mentions and quotes of the articles this load wrote replace their earlier
versions', then entities are resolved across every stored article where this load changed their inputs.

The staged `entities` rows are not loaded: each stage resolved its articles alone (pipelines.nlp.annotate),
the load resolves across all of them. Mentions stored before migration 008 join in on the first load.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pipelines.nlp.entities import (
    AliasRules,
    ArticleEntity,
    article_entities,
    changed_keys,
    entity_rows,
    key_votes,
    load_alias_rules,
    make_resolver,
    person_words,
)
from pipelines.storage import entity_queries
from pipelines.storage.batch import LoadBatch, Row, Rows, unique_by
from pipelines.storage.store import Store
from pipelines.tables import ARTICLE_CHILDREN


def load_entities(batch: LoadBatch) -> None:
    """Annotations of the written articles in, those of copies and replaced versions out; entities follow.

    Resolved with the reviewed aliases (`schemas/entity_aliases.yaml`) the stages resolved with.
    """
    store, written = batch.store, batch.written
    for table in ARTICLE_CHILDREN:
        store.delete(table, "article_id", sorted(written))
    left = entity_queries.drop_article_entities(store, sorted(written | batch.copies))
    earlier = article_entities(entity_queries.mentions_without_article_entities(store))
    annotations = annotations_of(batch.rows, written)
    mentions, quotes = annotations["entity_mentions"], annotations["quotes"]
    store.insert("entity_mentions", [{**row, "local_id": row["entity_id"]} for row in mentions])
    store.insert("quotes", [{**row, "speaker_local_id": row["speaker_entity_id"]} for row in quotes])
    added = earlier + article_entities(
        (row["article_id"], row["entity_id"], row["mention_text"], row["label"]) for row in mentions
    )
    entity_queries.insert_article_entities(store, added)
    _resolve_entities(store, left, added, load_alias_rules(batch.settings.alias_file), batch.now)


def annotations_of(rows: Rows, written: set[str]) -> dict[str, list[Row]]:
    """The mentions and quotes of the articles a load wrote, their ids still the ones each article gave alone.

    The first row per key stays: ON CONFLICT would otherwise keep an arbitrary one of two duplicates.
    """
    mentions = [row for row in rows["entity_mentions"] if row["article_id"] in written]
    quotes = [row for row in rows["quotes"] if row["article_id"] in written]
    return {
        "entity_mentions": unique_by(mentions, ("article_id", "start_char", "end_char")),
        "quotes": unique_by(quotes, ("quote_id",)),
    }


def _resolve_entities(
    store: Store, left: Sequence[ArticleEntity], added: Sequence[ArticleEntity], rules: AliasRules, now: datetime
) -> None:
    """Resolution across every stored article, redone where this load changed its inputs.

    A name's type changes only with the votes of its key, and a bare name's person only with the full
    names sharing its word; so re-resolving the names whose keys gained or lost votes, and the bare names
    sharing a word with their full names, gives what resolving all stored articles at once would give,
    whatever batches, shards or order they came in. Their entities are then rebuilt from their mentions.
    """
    changed = [entity.evidence for entity in (*left, *added)]
    if not changed:
        return
    keys = changed_keys(changed)
    words = person_words([*(item.form for item in changed), *entity_queries.name_forms(store, keys=keys)])
    forms = entity_queries.name_forms(store, keys=keys, words=words)
    people = entity_queries.name_forms(store, full_words={form.word for form in forms if form.word is not None})
    votes = key_votes(*entity_queries.vote_totals(store, {form.name_key for form in (*forms, *people)}))
    resolver = make_resolver(rules, votes, people)
    touched = entity_queries.reassign_entities(
        store, {(form.name_key, form.word): resolver.assign(form) for form in forms}
    )
    touched |= {entity.entity_id for entity in left}
    entity_queries.replace_entities(
        store, touched, *entity_rows(*entity_queries.entity_totals(store, touched), rules), now
    )
