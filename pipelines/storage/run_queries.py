"""Run records over the `Store`: each load's `ingest_runs` row, a killed writer's committed run, a failed run, and the
per-source history the batch volume checks compare with."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pipelines.quality.verdict import HISTORY_BATCHES
from pipelines.storage.staging import Manifest, Validation
from pipelines.storage.store import Store, utc_now

# Counts a stage reports itself (in its manifest) and ingest_runs keeps, summed over a run's stages.
STAGE_COUNTS = ("feeds_polled", "feeds_failed", "items_seen", "items_already_seen", "pages_fetched")


@dataclass(frozen=True, slots=True)
class LoadCounts:
    """What one load did, as `ingest_runs` records it."""

    run_id: str
    inputs: int
    unchanged: int
    articles_new: int
    articles_updated: int
    articles_same: int
    skipped: int
    quarantined: int
    stage_counts: dict[str, int] = field(default_factory=dict)
    published: bool = False  # whether the load published the snapshot (not stored: `ingest_runs` has no column)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_run(
    store: Store,
    manifest: Manifest,
    status: str,
    now: datetime,
    *,
    counts: LoadCounts | None = None,
    validation: Validation | None = None,
    error: str | None = None,
) -> None:
    """The run's `ingest_runs` row: its counts, the stage counts and the validation verdict it loaded with."""
    values = counts.as_dict() if counts else {}
    extra = counts.stage_counts if counts else {}
    quality = (
        {
            "validation_success": validation.success,
            "validated_rows": validation.validated,
            "rejected_rows": len(validation.rejected),
            "quality_docs": validation.docs_path,
            "quality_pages": json.dumps(validation.pages),
            "validation_seconds": validation.seconds,
            "validation_cold_start": validation.cold_start,
        }
        if validation
        else {}
    )
    store.insert(
        "ingest_runs",
        [
            {
                **values,
                **{name: extra.get(name) for name in STAGE_COUNTS},
                **quality,
                "run_id": manifest.run_id,
                "started_at": manifest.started_at,
                "finished_at": now,
                "status": status,
                "trigger": manifest.trigger,
                "error": error,
            }
        ],
        on_conflict="REPLACE",
    )


def loaded_run(store: Store, run_id: str) -> LoadCounts | None:
    """The counts of a run that already loaded successfully; None if it has not (or failed)."""
    fields = [name for name in LoadCounts.__dataclass_fields__ if name not in ("stage_counts", "published")]
    found = store.con.execute(
        f"SELECT {', '.join(fields)}, {', '.join(STAGE_COUNTS)} FROM ingest_runs"
        " WHERE run_id = ? AND status = 'success'",
        [run_id],
    ).fetchone()
    if found is None:
        return None
    stage_counts = {
        name: value for name, value in zip(STAGE_COUNTS, found[len(fields) :], strict=True) if value is not None
    }
    return LoadCounts(**dict(zip(fields, found[: len(fields)], strict=True)), stage_counts=stage_counts)


def record_failed_run(store: Store, manifest: Manifest, error: str) -> bool:
    """A failed run's row, in its own transaction (its stages stay for the retry); False if the run has a row."""
    with store.transaction():
        if new := not store.existing("ingest_runs", "run_id", [manifest.run_id]):
            record_run(store, manifest, "failed", utc_now(), error=error)
    return new


def recent_source_counts(store: Store, source_ids: list[str], runs: int = HISTORY_BATCHES) -> dict[str, list[int]]:
    """Articles per loaded run for each source, oldest first: the history batch volume checks compare to."""
    history: dict[str, list[int]] = {}
    for source_id, articles in store.con.execute(
        "SELECT source_id, articles FROM ("
        " SELECT source_id, articles, loaded_at,"
        " row_number() OVER (PARTITION BY source_id ORDER BY loaded_at DESC) AS n"
        " FROM run_source_counts WHERE source_id IN (SELECT unnest(?::VARCHAR[])))"
        " WHERE n <= ? ORDER BY source_id, loaded_at",
        [source_ids, runs],
    ).fetchall():
        history.setdefault(source_id, []).append(int(articles))
    return history
