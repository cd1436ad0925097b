"""The load's article steps: body versions (pipelines.storage.versions decides), then stories
(pipelines.dedup.stories decides); `articles` keeps one row per story, its canonical article.

Every changed body version lands in `article_versions` and is a dedup entry (two versions in one batch
count as they would in two); a copy becomes an `article_duplicates` row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from pipelines.config import DedupConfig
from pipelines.dedup.signatures import (
    DedupEntry,
    band_hashes,
    band_keys,
    index_key,
    make_entry,
)
from pipelines.dedup.stories import StoryPlan, plan_stories
from pipelines.storage import dedup_queries
from pipelines.storage.batch import LoadBatch, Row, seen_at
from pipelines.storage.store import Store
from pipelines.storage.versions import VersionPlan, plan_versions
from pipelines.tables import ARTICLE_CHILDREN


def load_versions(batch: LoadBatch) -> None:
    """The fresh inputs' articles as versions of what is stored: new, updated or the same; sets `versions`."""
    rows = [row for row in batch.rows["articles"] if row["raw_id"] in batch.fresh_ids]
    stored = dedup_queries.current_versions(batch.store, (row["article_id"] for row in rows))
    batch.versions = plan_versions(rows, stored, batch.run_id, batch.now)
    batch.store.insert("article_versions", batch.versions.versions)


def load_stories(batch: LoadBatch) -> None:
    """Each changed version joins its story; sets `written` (canonical articles stored now) and `copies`."""
    store, dedup, versions = batch.store, batch.settings.dedup, planned(batch.versions)
    dedup_queries.check_index(store, index_key(dedup))
    entries = [make_entry(row["article_id"], row["body_text"], seen_at(row), dedup) for row in versions.changed]
    candidates = dedup_queries.candidates(store, entries, band_hashes(entries, dedup))
    plan = plan_stories(entries, candidates, partial(dedup_queries.story_entries, store), dedup)
    _save_signatures(store, entries, versions.changed, dedup)
    _save_stories(store, plan, batch.run_id, batch.now)
    batch.written = {article_id for article_id in versions.latest if article_id in plan.canonical}
    store.insert(
        "articles",
        [row for article_id, row in versions.latest.items() if article_id in batch.written],
        on_conflict="REPLACE",
    )
    batch.copies = set(plan.copies)
    batch.story_of = plan.story_of()


def planned(versions: VersionPlan | None) -> VersionPlan:
    if versions is None:
        raise RuntimeError("the stories step runs after the versions step")
    return versions


def _save_signatures(store: Store, entries: Sequence[DedupEntry], rows: Sequence[Row], cfg: DedupConfig) -> None:
    """Each entry's signature row, with the provenance of the row it was made from, and its band rows."""
    store.insert(
        "article_signatures",
        [
            {
                "article_id": e.article_id,
                "raw_id": row["raw_id"],
                "fingerprint": e.fingerprint,
                "signature": list(e.signature) or None,
                "seen_at": e.seen_at,
                "source_id": row["source_id"],
                "url": row["url"],
            }
            for e, row in zip(entries, rows, strict=True)
        ],
        on_conflict="NOTHING",
    )
    store.insert(
        "dedup_bands",
        [{"band_hash": band, "article_id": e.article_id} for e in entries for _, band in band_keys(e.signature, cfg)],
    )


def _save_stories(store: Store, plan: StoryPlan, run_id: str, now: datetime) -> None:
    """Re-point every member of the touched stories, rewrite their duplicate rows, demote former canonicals.

    Articles that stop being canonical (an earlier copy arrived, or two stories merged) leave
    `articles` together with their mentions and quotes; their text stays in article_versions.
    """
    story_of = plan.story_of()
    if not story_of:
        return
    store.insert(
        "article_stories", [{"article_id": a, "story_id": s} for a, s in story_of.items()], on_conflict="REPLACE"
    )
    store.delete("article_duplicates", "duplicate_article_id", list(story_of))
    copies = sorted(plan.copies)
    provenance = dedup_queries.latest_provenance(store, copies)
    store.insert(
        "article_duplicates",
        [
            {
                "article_id": link.story_id,
                "duplicate_article_id": link.article_id,
                "duplicate_raw_id": provenance[link.article_id].raw_id,
                "url": provenance[link.article_id].url,
                "source_id": provenance[link.article_id].source_id,
                "method": link.method,
                "similarity": link.similarity,
                "detected_at": now,
                "run_id": run_id,
            }
            for story in plan.stories
            for link in story.links
        ],
    )
    for table in ("articles", *ARTICLE_CHILDREN):
        store.delete(table, "article_id", copies)
