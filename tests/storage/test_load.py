"""The load as ordered named steps: each sees what the steps before it left, and the load is one transaction."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from quality_batches import PASSED

from pipelines.config import SCHEMAS_DIR, Settings
from pipelines.records import RawDocument, Source, Status
from pipelines.storage.batch import LoadBatch
from pipelines.storage.load import LOAD_STEPS, LoadStep, load_batch
from pipelines.storage.staging import Manifest
from pipelines.storage.store import Store
from pipelines.tables import STAGED_TABLES

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
SOURCE = Source("src-1", "folder", "file:///seeds", "seeds")


def _rows(*raw_ids: str) -> dict[str, list[dict[str, object]]]:
    """A staged run of inputs that made no article (skipped), enough to go through every step."""
    rows: dict[str, list[dict[str, object]]] = {table: [] for table in STAGED_TABLES}
    rows["sources"] = [asdict(SOURCE)]
    rows["raw_documents"] = [
        asdict(RawDocument(raw_id, SOURCE.source_id, f"file:///seeds/{raw_id}", NOW, raw_id, 1, None, Status.SKIPPED))
        for raw_id in raw_ids
    ]
    return rows


def _load(path: Path, run_id: str, rows: dict[str, list[dict[str, object]]], steps: tuple[LoadStep, ...]) -> None:
    with Store.open(path, SCHEMAS_DIR) as store:
        load_batch(store, Settings(), Manifest(run_id, "test", NOW, "file:///seeds"), rows, {}, PASSED, steps)


def _counts(path: Path) -> dict[str, int]:
    with Store.open(path, SCHEMAS_DIR, read_only=True) as store:
        return store.table_counts()


def test_the_steps_run_in_their_order_and_end_by_recording_the_run() -> None:
    names = [step.name for step in LOAD_STEPS]
    assert names == ["inputs", "versions", "stories", "events", "entities", "quarantine", "polling", "run"]


def test_a_step_added_to_the_list_sees_what_the_steps_before_it_set(tmp_path: Path) -> None:
    seen: list[tuple[str, set[str], int]] = []

    def spy(batch: LoadBatch) -> None:
        seen.append((batch.run_id, set(batch.fresh_ids), batch.skipped))

    steps = (*LOAD_STEPS[:-1], LoadStep("spy", spy), LOAD_STEPS[-1])
    _load(tmp_path / "news.duckdb", "run-1", _rows("r1", "r2"), steps)
    _load(tmp_path / "news.duckdb", "run-2", _rows("r1", "r3"), steps)  # r1 was loaded by run-1
    assert seen == [("run-1", {"r1", "r2"}, 2), ("run-2", {"r3"}, 1)]
    counts = _counts(tmp_path / "news.duckdb")
    assert (counts["raw_documents"], counts["sources"], counts["ingest_runs"]) == (3, 1, 2)


def test_a_failing_step_rolls_back_every_step_before_it(tmp_path: Path) -> None:
    def fails(batch: LoadBatch) -> None:
        raise RuntimeError("the step failed")

    steps = (*LOAD_STEPS[:-1], LoadStep("fails", fails), LOAD_STEPS[-1])
    with pytest.raises(RuntimeError, match="the step failed"):
        _load(tmp_path / "news.duckdb", "run-1", _rows("r1"), steps)
    counts = _counts(tmp_path / "news.duckdb")
    assert (counts["raw_documents"], counts["sources"], counts["ingest_runs"]) == (0, 0, 0)


def test_a_load_without_the_run_step_says_what_is_missing_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="end with the `run` step"):
        _load(tmp_path / "news.duckdb", "run-1", _rows("r1"), LOAD_STEPS[:-1])
    assert _counts(tmp_path / "news.duckdb")["raw_documents"] == 0
