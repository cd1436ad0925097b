"""What a verdict does to a batch: refused rows of each table leave it for quarantine, children follow their article."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import PROJECT_ROOT
from quality_batches import make_batch

from pipelines.config import Settings
from pipelines.pipeline import load_stages, new_run_id, stage_folder, validate_stages
from pipelines.quality.gate import validate_batch
from pipelines.quality.verdict import (
    QUARANTINE_ROW_KEYS,
    Refusals,
    apply_verdict,
    kept_frame,
)
from pipelines.records import Status
from pipelines.storage.staging import read_stage, read_validation, write_stage
from pipelines.tables import STAGED_TABLES, VALIDATED_TABLES

MISSING_TYPE = "Every entity has a type."


def _gx_copy(root: Path) -> Path:
    """The project's GX context and suites under `root`, so results and docs are written there."""
    shutil.copytree(PROJECT_ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copytree(PROJECT_ROOT / "schemas" / "expectations", root / "schemas" / "expectations")
    return root / "gx"


def _rows(**tables: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {**{table: [] for table in STAGED_TABLES}, **tables}


def _rejected(table: str, record_id: str, raw_id: str | None, article_id: str | None, reason: str) -> dict[str, Any]:
    return {
        "table_name": table,
        "record_id": record_id,
        "raw_id": raw_id,
        "article_id": article_id,
        "stage": "validate",
        "reason": f"{table}: {reason}",
        "detail": "{}",
    }


def test_a_verdict_without_rejections_leaves_the_rows_alone() -> None:
    rows = _rows(articles=[{"article_id": "a1", "raw_id": "r1"}])
    assert apply_verdict(rows, []) is rows


def test_a_refused_article_takes_its_children_feed_item_and_lone_input_with_it() -> None:
    rows = _rows(
        raw_documents=[
            {"raw_id": "r1", "status": Status.LOADED, "reason": None},
            {"raw_id": "r2", "status": Status.LOADED, "reason": None},
        ],
        articles=[
            {"article_id": "a1", "raw_id": "r1"},
            {"article_id": "a2", "raw_id": "r1"},
            {"article_id": "a3", "raw_id": "r2"},
        ],
        entity_mentions=[
            {"article_id": article, "entity_id": "e1", "start_char": 0, "end_char": 4} for article in ("a1", "a2", "a3")
        ],
        quotes=[{"quote_id": "q3", "article_id": "a3"}],
        feed_items=[{"item_key": "i3", "article_id": "a3", "outcome": Status.LOADED, "reason": None}],
        quarantine=[{"raw_id": "r9", "stage": "read", "reason": "empty file", "detail": None}],
    )
    refusals = [
        _rejected("articles", "a1", "r1", "a1", "title is null"),
        _rejected("articles", "a3", "r2", "a3", "body too short"),
    ]
    loaded = apply_verdict(rows, refusals)

    assert [row["article_id"] for row in loaded["articles"]] == ["a2"]
    assert [row["article_id"] for row in loaded["entity_mentions"]] == ["a2"]  # children leave with their article
    assert loaded["quotes"] == []
    statuses = {row["raw_id"]: (row["status"], row["reason"]) for row in loaded["raw_documents"]}
    assert statuses == {"r1": (Status.LOADED, None), "r2": (Status.QUARANTINED, "articles: body too short")}
    assert loaded["feed_items"][0]["outcome"] == Status.QUARANTINED
    assert loaded["feed_items"][0]["reason"] == "articles: body too short"
    assert loaded["quarantine"] == [rows["quarantine"][0], *({k: r[k] for k in QUARANTINE_ROW_KEYS} for r in refusals)]


@pytest.fixture(scope="module")
def entity_refused(tmp_path_factory: pytest.TempPathFactory):
    """A batch whose first entity has no type, validated by the real gate."""
    batch = make_batch(8)
    batch["entities"].loc[0, "type"] = None
    return batch, validate_batch(batch, _gx_copy(tmp_path_factory.mktemp("project")), "entity-refused")


def test_a_refused_entity_goes_to_quarantine_named_by_its_record(entity_refused) -> None:
    batch, outcome = entity_refused
    entity_id = batch["entities"].loc[0, "entity_id"]
    loaded = apply_verdict(
        _rows(**{table: batch[table].to_dict("records") for table in VALIDATED_TABLES}), outcome.rejected_rows
    )

    assert entity_id not in {row["entity_id"] for row in loaded["entities"]}
    (row,) = loaded["quarantine"]
    assert row["table_name"] == "entities" and row["record_id"] == entity_id
    assert row["raw_id"] is None and row["stage"] == "validate" and MISSING_TYPE in row["reason"]
    assert len(loaded["articles"]) == 8  # the rest of the batch loads


def test_the_gate_and_the_load_keep_the_same_rows(entity_refused) -> None:
    batch, outcome = entity_refused
    refusals = Refusals.of(outcome.rejected_rows)
    loaded = apply_verdict(
        _rows(**{table: batch[table].to_dict("records") for table in VALIDATED_TABLES}), outcome.rejected_rows
    )
    for table in VALIDATED_TABLES:
        kept = kept_frame(table, batch[table], refusals)
        assert kept.to_dict("records") == loaded[table], table
        assert outcome.counts[table].valid == len(kept)


def test_an_ingest_quarantines_an_entity_row_that_fails_its_suite(tmp_path: Path, seeds_dir: Path) -> None:
    settings = Settings.from_env(
        seeds_dir=seeds_dir, db_path=tmp_path / "news.duckdb", staging_dir=tmp_path / "stage", gx_dir=_gx_copy(tmp_path)
    )
    batch = stage_folder(settings, new_run_id("test"), "test")
    stage = read_stage(batch.path)
    tables = {name: stage.rows(name) for name in stage.tables}
    entity = tables["entities"][0]
    tables["entities"][0] = {**entity, "type": None}  # what an NLP bug would stage
    write_stage(batch.path, stage.manifest, tables)

    validate_stages(settings, [batch.path])
    validation = read_validation(batch.path)
    assert validation is not None
    (refused,) = validation.rejected
    assert (refused["table_name"], refused["record_id"]) == ("entities", entity["entity_id"])
    load_stages(settings, [batch.path])

    con = duckdb.connect(str(settings.db_path), read_only=True)
    # The staged row is the article's own view of the entity; `entities` is resolved in the load from the
    # mentions' labels, so the broken type never reaches it, while the refusal is on record.
    assert con.execute("SELECT type FROM entities WHERE entity_id = ?", [entity["entity_id"]]).fetchone() == (
        entity["type"],
    )
    rows = con.execute(
        "SELECT record_id, raw_id, stage, reason FROM quarantine WHERE table_name = 'entities'"
    ).fetchall()
    con.close()
    assert len(rows) == 1
    record, raw_id, stage_name, reason = rows[0]
    assert (record, raw_id, stage_name) == (entity["entity_id"], None, "validate") and MISSING_TYPE in reason
