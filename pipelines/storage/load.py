"""The load of one staged run: read through `Store`, decide with pure planners, write through `Store`.

One transaction per run, idempotent: rows are keyed by ids derived from content, an input already
loaded is recognised by its raw_id, and a re-run adds nothing. The decisions are made elsewhere:
article versions by pipelines.storage.versions, stories by pipelines.dedup.plan_stories, entities by
pipelines.nlp.entities; this module only sequences them and shapes their rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pipelines.dedup import (
    DedupConfig,
    DedupEntry,
    StoryPlan,
    band_hashes,
    band_keys,
    make_entry,
    plan_stories,
)
from pipelines.ids import stable_id
from pipelines.nlp.entities import (
    AliasRules,
    ArticleEntity,
    article_entities,
    changed_keys,
    entity_rows,
    key_votes,
    make_resolver,
    person_words,
)
from pipelines.records import Status
from pipelines.storage.staging import Manifest, Validation
from pipelines.storage.store import LoadCounts, Store, utc_now
from pipelines.storage.versions import VersionPlan, plan_versions
from pipelines.tables import ARTICLE_CHILDREN

Row = dict[str, Any]
Rows = Mapping[str, list[Row]]


def load_batch(
    store: Store, manifest: Manifest, rows: Rows, stage_counts: Mapping[str, int], validation: Validation,
    dedup: DedupConfig, rules: AliasRules,
) -> LoadCounts:
    """Load one run's validated rows in a single transaction; inputs already loaded are counted, not re-inserted.

    `rules` are the reviewed entity aliases (`schemas/entity_aliases.yaml`) the stages resolved with.
    """
    run_id = manifest.run_id
    now = utc_now()
    raw_rows = rows["raw_documents"]
    with store.transaction():
        known = store.existing("raw_documents", "raw_id", [row["raw_id"] for row in raw_rows])
        fresh_raw = [row for row in unique_by(raw_rows, ("raw_id",)) if row["raw_id"] not in known]
        fresh_ids = {row["raw_id"] for row in fresh_raw}
        store.insert("sources", [{**row, "created_at": now} for row in unique_by(rows["sources"], ("source_id",))],
                     on_conflict="NOTHING")
        store.insert("raw_documents", [{**row, "run_id": run_id} for row in fresh_raw])
        versions, written, copies = _load_articles(
            store, [row for row in rows["articles"] if row["raw_id"] in fresh_ids], run_id, now, dedup
        )
        _replace_annotations(store, rows, written, copies, rules, now)
        # A refused row of a table without a single input (an entity) has no raw_id and is always kept.
        refused = [row for row in rows["quarantine"] if row["raw_id"] in fresh_ids or row["raw_id"] is None]
        quarantined = _insert_quarantine(store, refused, run_id, now)
        store.insert("fetch_events", unique_by(rows["fetch_events"], ("event_id",)), on_conflict="NOTHING")
        store.insert("feed_state", unique_by(rows["feed_state"], ("source_id",)), on_conflict="REPLACE")
        store.insert("feed_items", unique_by(rows["feed_items"], ("source_id", "item_key")), on_conflict="NOTHING")
        store.insert("source_documents", unique_by(rows["source_documents"], ("source_id", "document_hash")),
                     on_conflict="NOTHING")
        # Stages sharing a fetcher each carry what it fetched so far: the latest record of a site wins.
        latest_robots = sorted(rows["robots_cache"], key=lambda row: row["fetched_at"], reverse=True)
        store.insert("robots_cache", unique_by(latest_robots, ("origin",)), on_conflict="REPLACE")
        counts = LoadCounts(
            run_id=run_id,
            inputs=len({row["raw_id"] for row in raw_rows}),
            unchanged=len(known),
            articles_new=versions.new,
            articles_updated=versions.updated,
            articles_same=versions.same,
            skipped=sum(row["status"] == Status.SKIPPED for row in fresh_raw),
            quarantined=quarantined,
            stage_counts=dict(stage_counts),
        )
        store.record_run(manifest, "success", now, counts=counts, validation=validation)
        store.insert("run_source_counts", [
            {"run_id": run_id, "source_id": source, "articles": count, "loaded_at": now}
            for source, count in validation.articles_per_source.items()
        ])
    return counts


def _load_articles(
    store: Store, rows: list[Row], run_id: str, now: datetime, dedup: DedupConfig
) -> tuple[VersionPlan, set[str], set[str]]:
    """Every changed body version lands in `article_versions` and is a dedup entry (two versions in one
    batch count as they would in two); `articles` keeps one row per story (the canonical article), a
    copy becomes an `article_duplicates` row. Also returns the ids whose `articles` row this load wrote,
    and the copies (which leave `articles` if they were there)."""
    versions = plan_versions(rows, store.current_versions(row["article_id"] for row in rows), run_id, now)
    store.insert("article_versions", versions.versions)
    store.check_dedup_index(dedup.index_key)
    entries = [make_entry(row["article_id"], row["body_text"], _seen_at(row), dedup) for row in versions.changed]
    plan = plan_stories(entries, store.dedup_candidates(entries, band_hashes(entries, dedup)), store.story_entries,
                        dedup)
    _save_signatures(store, entries, versions.changed, dedup)
    _save_stories(store, plan, run_id, now)
    written = {article_id for article_id in versions.latest if article_id in plan.canonical}
    store.insert("articles", [row for article_id, row in versions.latest.items() if article_id in written],
                 on_conflict="REPLACE")
    return versions, written, set(plan.copies)


def _seen_at(row: Row) -> datetime:
    """When the input says the story appeared: its publication time, else when it was fetched."""
    return row["published_at"] or row["fetched_at"]


def _save_signatures(store: Store, entries: Sequence[DedupEntry], rows: Sequence[Row], cfg: DedupConfig) -> None:
    """Each entry's signature row, with the provenance of the row it was made from, and its band rows."""
    store.insert("article_signatures", [
        {"article_id": e.article_id, "raw_id": row["raw_id"], "fingerprint": e.fingerprint,
         "signature": list(e.signature) or None, "seen_at": e.seen_at, "source_id": row["source_id"], "url": row["url"]}
        for e, row in zip(entries, rows, strict=True)
    ], on_conflict="NOTHING")
    store.insert("dedup_bands", [
        {"band_hash": band, "article_id": e.article_id} for e in entries for _, band in band_keys(e.signature, cfg)
    ])


def _save_stories(store: Store, plan: StoryPlan, run_id: str, now: datetime) -> None:
    """Re-point every member of the touched stories, rewrite their duplicate rows, demote former canonicals.

    Articles that stop being canonical (an earlier copy arrived, or two stories merged) leave
    `articles` together with their mentions and quotes; their text stays in article_versions.
    """
    story_of = plan.story_of()
    if not story_of:
        return
    store.insert("article_stories", [{"article_id": a, "story_id": s} for a, s in story_of.items()],
                 on_conflict="REPLACE")
    store.delete("article_duplicates", "duplicate_article_id", list(story_of))
    copies = sorted(plan.copies)
    provenance = store.latest_provenance(copies)
    store.insert("article_duplicates", [
        {"article_id": link.story_id, "duplicate_article_id": link.article_id,
         "duplicate_raw_id": provenance[link.article_id].raw_id, "url": provenance[link.article_id].url,
         "source_id": provenance[link.article_id].source_id, "method": link.method, "similarity": link.similarity,
         "detected_at": now, "run_id": run_id}
        for story in plan.stories for link in story.links
    ])
    for table in ("articles", *ARTICLE_CHILDREN):
        store.delete(table, "article_id", copies)


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


def _replace_annotations(
    store: Store, rows: Rows, written: set[str], copies: set[str], rules: AliasRules, now: datetime
) -> None:
    """Mentions and quotes of the articles this load wrote replace their earlier versions'; entities follow.

    The staged `entities` rows are not loaded: each stage resolved its articles alone, the load resolves
    across all of them (`_resolve_entities`). Mentions stored before migration 008 join in on the first load.
    """
    ids = sorted(written)
    for table in ARTICLE_CHILDREN:
        store.delete(table, "article_id", ids)
    left = store.drop_article_entities(sorted(written | copies))
    earlier = article_entities(store.mentions_without_article_entities())
    annotations = annotations_of(rows, written)
    mentions, quotes = annotations["entity_mentions"], annotations["quotes"]
    store.insert("entity_mentions", [{**row, "local_id": row["entity_id"]} for row in mentions])
    store.insert("quotes", [{**row, "speaker_local_id": row["speaker_entity_id"]} for row in quotes])
    added = earlier + article_entities(
        (row["article_id"], row["entity_id"], row["mention_text"], row["label"]) for row in mentions
    )
    store.insert_article_entities(added)
    _resolve_entities(store, left, added, rules, now)


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
    words = person_words([*(item.form for item in changed), *store.name_forms(keys=keys)])
    forms = store.name_forms(keys=keys, words=words)
    people = store.name_forms(full_words={form.word for form in forms if form.word is not None})
    votes = key_votes(*store.vote_totals({form.name_key for form in (*forms, *people)}))
    resolver = make_resolver(rules, votes, people)
    touched = store.reassign_entities({(form.name_key, form.word): resolver.assign(form) for form in forms})
    touched |= {entity.entity_id for entity in left}
    store.replace_entities(touched, *entity_rows(*store.entity_totals(touched), rules), now)


def _insert_quarantine(store: Store, rows: list[Row], run_id: str, now: datetime) -> int:
    """Quarantine rows keyed by what was refused and why, so a replayed refusal is not counted twice."""
    keyed = [
        {**row, "quarantine_id": stable_id(row["raw_id"], row["stage"], row["detail"], row["reason"]),
         "run_id": run_id, "created_at": now}
        for row in rows
    ]
    fresh = unique_by(keyed, ("quarantine_id",))
    known = store.existing("quarantine", "quarantine_id", [row["quarantine_id"] for row in fresh])
    store.insert("quarantine", [row for row in fresh if row["quarantine_id"] not in known])
    return len(fresh) - len(known)


def unique_by(rows: Sequence[Row], keys: tuple[str, ...]) -> list[Row]:
    """First row per key: ON CONFLICT would otherwise keep an arbitrary one of two duplicates in a batch."""
    seen: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        seen.setdefault(tuple(row[key] for key in keys), row)
    return list(seen.values())
