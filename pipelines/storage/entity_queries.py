"""Entities across articles over the `Store`: pipelines.storage.steps.entities decides, these only read and write."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import pyarrow as pa

from pipelines.nlp.entities import ArticleEntity, NameForm
from pipelines.records import Entity, EntityAlias
from pipelines.storage import marks
from pipelines.storage.store import ARROW_TYPES, Store
from pipelines.tables import SEGMENT


def insert_article_entities(store: Store, entities: Sequence[ArticleEntity]) -> None:
    if entities:
        table = pa.table(
            {
                column: pa.array([getattr(entity, column) for entity in entities], ARROW_TYPES.get(kind))
                for column, kind in store.columns("article_entities").items()
                if column != SEGMENT
            }
        )
        with store.arrow(table) as view:
            store.con.execute(f"INSERT INTO article_entities BY NAME SELECT * FROM {view}")


def drop_article_entities(store: Store, article_ids: Sequence[str]) -> list[ArticleEntity]:
    """Delete these articles' own entities (their mentions leave with them) and return them."""
    rows = store.dicts(
        "DELETE FROM article_entities WHERE article_id IN (SELECT unnest(?::VARCHAR[])) RETURNING *",
        [list(article_ids)],
    )
    marks.record_losses(store.con, "article_entities", (row.pop(SEGMENT) for row in rows))
    return [ArticleEntity(**{**row, "votes": tuple(sorted(row["votes"].items()))}) for row in rows]


def mentions_without_article_entities(store: Store) -> list[tuple[str, str, str, str]]:
    """(article_id, local_id, text, label) of mentions stored before migration 008, until a load regroups them."""
    return store.con.execute(
        "SELECT article_id, local_id, mention_text, label FROM entity_mentions"
        " WHERE NOT EXISTS (SELECT 1 FROM article_entities) ORDER BY ALL"
    ).fetchall()


def name_forms(
    store: Store, *, keys: Iterable[str] = (), words: Iterable[str] = (), full_words: Iterable[str] = ()
) -> list[NameForm]:
    """Stored names with one of `keys`, one-word names with one of `words`, full names with one of `full_words`."""
    return [
        NameForm(*row)
        for row in store.con.execute(
            "SELECT min(name), name_key, word, first_word, last_word FROM article_entities"
            " WHERE name_key IN (SELECT unnest($1::VARCHAR[])) OR word IN (SELECT unnest($2::VARCHAR[]))"
            " OR first_word IN (SELECT unnest($3::VARCHAR[])) OR last_word IN (SELECT unnest($3::VARCHAR[]))"
            " GROUP BY ALL ORDER BY ALL",
            [sorted(keys), sorted(words), sorted(full_words)],
        ).fetchall()
    ]


def vote_totals(store: Store, keys: Iterable[str]) -> tuple[list[tuple[str, str, float]], list[tuple[str, int]]]:
    """Over all article entities: (name_key, label, votes) of `keys`, (surname_key, mentions) lent to them."""
    wanted = [sorted(set(keys))]
    own = store.con.execute(
        "SELECT name_key, label, sum(weight) FROM (SELECT name_key, unnest(map_keys(votes)) AS label,"
        " unnest(map_values(votes)) AS weight FROM article_entities WHERE name_key IN (SELECT unnest(?::VARCHAR[])))"
        " GROUP BY ALL",
        wanted,
    ).fetchall()
    lent = store.con.execute(
        "SELECT surname_key, sum(mentions) FROM article_entities"
        " WHERE surname_key IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL",
        wanted,
    ).fetchall()
    return own, lent


def reassign_entities(store: Store, assigned: Mapping[tuple[str, str | None], tuple[str, str]]) -> set[str]:
    """Set each (name_key, word)'s (entity_id, type), re-point mentions and speakers; the ids they had or have."""
    units = pa.table(
        {
            "name_key": [key for key, _ in assigned],
            "word": pa.array([word for _, word in assigned], pa.string()),
            "entity_id": [entity_id for entity_id, _ in assigned.values()],
            "type": [t for _, t in assigned.values()],
        }
    )
    unit = "a.name_key = u.name_key AND a.word IS NOT DISTINCT FROM u.word"
    with store.arrow(units) as view:
        had = store.con.execute(f"SELECT DISTINCT a.entity_id FROM article_entities a JOIN {view} u ON {unit}")
        before = {entity_id for (entity_id,) in had.fetchall()}
        store.con.execute(
            f"UPDATE article_entities AS a SET entity_id = u.entity_id, type = u.type, {SEGMENT} = {marks.left('a')}"
            f" FROM {view} u WHERE {unit} AND (a.entity_id <> u.entity_id OR a.type <> u.type)"
        )
        moved = f"FROM article_entities a WHERE a.name_key IN (SELECT name_key FROM {view})"
        store.con.execute(
            f"UPDATE entity_mentions m SET entity_id = a.entity_id, {SEGMENT} = {marks.left('m')} {moved}"
            " AND m.article_id = a.article_id AND m.local_id = a.local_id AND m.entity_id <> a.entity_id"
        )
        store.con.execute(
            f"UPDATE quotes q SET speaker_entity_id = a.entity_id, {SEGMENT} = {marks.left('q')} {moved}"
            " AND q.article_id = a.article_id AND q.speaker_local_id = a.local_id"
            " AND q.speaker_entity_id <> a.entity_id"
        )
    return before | {entity_id for entity_id, _ in assigned.values()}


def entity_totals(store: Store, entity_ids: Iterable[str]) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    """Per entity: mentions per type its article entities were given, and mentions per surface form."""
    wanted, where = [sorted(set(entity_ids))], "WHERE entity_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL"
    types: dict[str, Counter[str]] = defaultdict(Counter)
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    for entity_id, type_, mentions in store.con.execute(
        f"SELECT entity_id, type, sum(mentions) FROM article_entities {where}", wanted
    ).fetchall():
        types[entity_id][type_] = mentions
    for entity_id, text, mentions in store.con.execute(
        f"SELECT entity_id, mention_text, count(*) FROM entity_mentions {where}", wanted
    ).fetchall():
        forms[entity_id][text] = mentions
    return types, forms


def replace_entities(
    store: Store, entity_ids: Iterable[str], entities: Sequence[Entity], aliases: Sequence[EntityAlias], now: datetime
) -> None:
    """Rewrite these entities as resolved: a changed name or type is stamped `now`, one without mentions goes."""
    wanted = sorted(set(entity_ids))
    stored = {
        row[0]: row[1:]
        for row in store.con.execute(
            "SELECT entity_id, name, type FROM entities WHERE entity_id IN (SELECT unnest(?::VARCHAR[]))", [wanted]
        ).fetchall()
    }
    store.delete("entities", "entity_id", sorted(set(wanted) - {entity.entity_id for entity in entities}))
    changed = [entity for entity in entities if stored.get(entity.entity_id) != (entity.name, entity.type)]
    store.insert(
        "entities",
        [
            {"entity_id": entity.entity_id, "name": entity.name, "type": entity.type, "updated_at": now}
            for entity in changed
        ],
        on_conflict="REPLACE",
    )
    store.delete("entity_aliases", "entity_id", wanted)
    store.insert("entity_aliases", [{"entity_id": alias.entity_id, "alias": alias.alias} for alias in aliases])
