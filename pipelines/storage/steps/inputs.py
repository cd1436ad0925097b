"""The load's bookkeeping steps: a run's sources and inputs (its first step), what it refused, and the polling state.

An input already loaded is recognised by its raw_id and counted, not inserted again; a refusal is keyed by
what was refused and why, so a replayed refusal is not counted twice.
"""

from __future__ import annotations

from pipelines.ids import stable_id
from pipelines.records import Status
from pipelines.storage.batch import LoadBatch, unique_by


def load_inputs(batch: LoadBatch) -> None:
    """Sources (first seen wins) and the inputs not loaded before; sets `known`, `fresh_ids` and `skipped`."""
    store, raw_rows = batch.store, batch.rows["raw_documents"]
    batch.known = store.existing("raw_documents", "raw_id", [row["raw_id"] for row in raw_rows])
    fresh_raw = [row for row in unique_by(raw_rows, ("raw_id",)) if row["raw_id"] not in batch.known]
    batch.fresh_ids = {row["raw_id"] for row in fresh_raw}
    batch.skipped = sum(row["status"] == Status.SKIPPED for row in fresh_raw)
    store.insert(
        "sources",
        [{**row, "created_at": batch.now} for row in unique_by(batch.rows["sources"], ("source_id",))],
        on_conflict="NOTHING",
    )
    store.insert("raw_documents", [{**row, "run_id": batch.run_id} for row in fresh_raw])


def load_quarantine(batch: LoadBatch) -> None:
    """The refusals of the fresh inputs (a refused row without a single input, an entity, is always kept)."""
    keyed = [
        {
            **row,
            "quarantine_id": stable_id(row["raw_id"], row["stage"], row["detail"], row["reason"]),
            "run_id": batch.run_id,
            "created_at": batch.now,
        }
        for row in batch.rows["quarantine"]
        if row["raw_id"] in batch.fresh_ids or row["raw_id"] is None
    ]
    fresh = unique_by(keyed, ("quarantine_id",))
    known = batch.store.existing("quarantine", "quarantine_id", [row["quarantine_id"] for row in fresh])
    batch.store.insert("quarantine", [row for row in fresh if row["quarantine_id"] not in known])
    batch.quarantined = len(fresh) - len(known)


def load_polling_state(batch: LoadBatch) -> None:
    """Requests made, feeds' state, items taken, documents a source served, and each site's robots.txt."""
    store, rows = batch.store, batch.rows
    store.insert("fetch_events", unique_by(rows["fetch_events"], ("event_id",)), on_conflict="NOTHING")
    store.insert("feed_state", unique_by(rows["feed_state"], ("source_id",)), on_conflict="REPLACE")
    store.insert("feed_items", unique_by(rows["feed_items"], ("source_id", "item_key")), on_conflict="NOTHING")
    store.insert(
        "source_documents", unique_by(rows["source_documents"], ("source_id", "document_hash")), on_conflict="NOTHING"
    )
    # Stages sharing a fetcher each carry what it fetched so far: the latest record of a site wins.
    latest_robots = sorted(rows["robots_cache"], key=lambda row: row["fetched_at"], reverse=True)
    store.insert("robots_cache", unique_by(latest_robots, ("origin",)), on_conflict="REPLACE")
