"""The load's last step: what the run did, as its `ingest_runs` row, and its articles per source (volume checks)."""

from __future__ import annotations

from pipelines.storage.batch import LoadBatch
from pipelines.storage.run_queries import LoadCounts, record_run


def record_loaded_run(batch: LoadBatch) -> None:
    """The run's counts, from what the steps before did, with its stage counts and validation verdict; sets `counts`."""
    versions, raw_rows = batch.versions, batch.rows["raw_documents"]
    counts = LoadCounts(
        run_id=batch.run_id,
        inputs=len({row["raw_id"] for row in raw_rows}),
        unchanged=len(batch.known),
        articles_new=versions.new if versions else 0,
        articles_updated=versions.updated if versions else 0,
        articles_same=versions.same if versions else 0,
        skipped=batch.skipped,
        quarantined=batch.quarantined,
        stage_counts=dict(batch.stage_counts),
    )
    record_run(batch.store, batch.manifest, "success", batch.now, counts=counts, validation=batch.validation)
    batch.counts = counts
    batch.store.insert(
        "run_source_counts",
        [
            {"run_id": batch.run_id, "source_id": source, "articles": count, "loaded_at": batch.now}
            for source, count in batch.validation.articles_per_source.items()
        ],
    )
