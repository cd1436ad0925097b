"""Stages on disk.

What a stage task writes is what the load reads, a crashed write never reads as a stage, and shards merge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.records import (
    Entity,
    EntityAlias,
    RawDocument,
    Rejection,
    Source,
    Status,
)
from pipelines.storage.staging import (
    MANIFEST,
    VALIDATION,
    Manifest,
    Validation,
    drop_stage,
    merge_rows,
    read_stage,
    read_validation,
    stage_path,
    write_stage,
    write_validation,
)

STARTED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SOURCE = Source(source_id="seeds", kind="folder", uri="file:///seeds", name="seeds")


def _manifest(run_id: str = "run-1") -> Manifest:
    return Manifest(
        run_id=run_id, trigger="test", started_at=STARTED, source_uri=SOURCE.uri, counts={"volume_checked": 1}
    )


def _raw(raw_id: str) -> RawDocument:
    return RawDocument(
        raw_id, SOURCE.source_id, f"file:///seeds/{raw_id}.txt", STARTED, "ab" * 32, 120, "text/plain", Status.LOADED
    )


def test_a_stage_reads_back_what_was_written(tmp_path: Path) -> None:
    path = stage_path(tmp_path, "run-1")
    rejection = Rejection(raw_id="r2", stage="read", reason="empty file")
    mention = {
        "article_id": "a1",
        "entity_id": "e1",
        "mention_text": "Oslo",
        "start_char": 3,
        "end_char": 7,
        "sentence_index": 0,
        "label": "GPE",
    }
    write_stage(
        path,
        _manifest(),
        {
            "sources": [SOURCE],
            "raw_documents": [_raw("r1"), _raw("r2")],
            "quarantine": [rejection],
            "entity_mentions": [mention],
            "quotes": [],
        },
    )
    stage = read_stage(path)
    assert stage.path == path and stage.manifest == _manifest()
    assert stage.rows("sources") == [{"source_id": "seeds", "kind": "folder", "uri": "file:///seeds", "name": "seeds"}]
    assert [row["raw_id"] for row in stage.rows("raw_documents")] == ["r1", "r2"]
    assert stage.rows("raw_documents")[0]["fetched_at"] == STARTED
    assert stage.rows("quarantine") == [{"raw_id": "r2", "stage": "read", "reason": "empty file", "detail": None}]
    assert stage.rows("entity_mentions") == [mention]
    assert "quotes" not in stage.tables and stage.rows("quotes") == []  # a table without rows is not written


def test_only_staged_tables_can_be_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a staged table"):
        write_stage(tmp_path / "stage", _manifest(), {"ingest_runs": [{"run_id": "run-1"}]})
    assert not (tmp_path / "stage").exists()


def test_stage_paths_stay_inside_the_staging_folder(tmp_path: Path) -> None:
    path = stage_path(tmp_path, "../feed:run/1 now")
    assert path.parent == tmp_path and path.name == ".._feed_run_1_now"


def test_a_crashed_write_never_reads_as_a_stage(tmp_path: Path) -> None:
    path = stage_path(tmp_path, "run-1")
    write_stage(path, _manifest(), {"raw_documents": [_raw("r1")]})
    # A column whose values Arrow cannot put in one type fails the write after other tables were written.
    with pytest.raises(pa.ArrowInvalid):
        write_stage(
            path, _manifest("run-2"), {"raw_documents": [_raw("r2")], "quotes": [{"quote_id": 1}, {"quote_id": "q"}]}
        )
    leftover = path.with_name(path.name + ".tmp")
    assert (leftover / "raw_documents.parquet").is_file() and not (leftover / MANIFEST).exists()
    stage = read_stage(path)  # the earlier stage is whole and untouched
    assert stage.manifest.run_id == "run-1" and [row["raw_id"] for row in stage.rows("raw_documents")] == ["r1"]
    with pytest.raises(FileNotFoundError, match=r"missing manifest.json"):
        read_stage(leftover)
    write_stage(path, _manifest("run-3"), {"raw_documents": [_raw("r3")]})  # the next write clears the leftover
    assert not leftover.exists() and read_stage(path).manifest.run_id == "run-3"


def test_a_dropped_stage_is_gone(tmp_path: Path) -> None:
    path = write_stage(stage_path(tmp_path, "run-1"), _manifest(), {"raw_documents": [_raw("r1")]})
    drop_stage(path)
    assert not path.exists()
    with pytest.raises(FileNotFoundError):
        read_stage(path)


def test_merged_shards_keep_one_entity_per_id_and_one_alias_per_pair(tmp_path: Path) -> None:
    """Shards resolve the same entity on their own: the longest name wins, whichever shard saw it."""
    first = write_stage(
        stage_path(tmp_path, "run-1__shard0"),
        _manifest(),
        {
            "raw_documents": [_raw("r1")],
            "entities": [Entity("e1", "Lopez", "PERSON"), Entity("e2", "Oslo", "GPE")],
            "entity_aliases": [EntityAlias("e1", "Lopez"), EntityAlias("e1", "Maria Lopez")],
        },
    )
    second = write_stage(
        stage_path(tmp_path, "run-1__shard1"),
        _manifest(),
        {
            "raw_documents": [_raw("r2")],
            "entities": [Entity("e1", "Maria Lopez", "PERSON")],
            "entity_aliases": [EntityAlias("e1", "Maria Lopez"), EntityAlias("e2", "Oslo")],
        },
    )
    for stages in ([first, second], [second, first]):
        rows = merge_rows([read_stage(path) for path in stages])
        assert sorted((row["entity_id"], row["name"]) for row in rows["entities"]) == [
            ("e1", "Maria Lopez"),
            ("e2", "Oslo"),
        ]
        assert sorted((row["entity_id"], row["alias"]) for row in rows["entity_aliases"]) == [
            ("e1", "Lopez"),
            ("e1", "Maria Lopez"),
            ("e2", "Oslo"),
        ]
    rows = merge_rows([read_stage(first), read_stage(second)])
    assert [row["raw_id"] for row in rows["raw_documents"]] == ["r1", "r2"]  # other tables: every row, in stage order
    assert rows["quotes"] == []


def test_the_validation_file_reads_back_what_was_written(tmp_path: Path) -> None:
    path = write_stage(stage_path(tmp_path, "run-1"), _manifest(), {"raw_documents": [_raw("r1")]})
    assert read_validation(path) is None
    validation = Validation(
        success=False,
        validated=3,
        rejected=[
            {
                "table_name": "entities",
                "record_id": "e1",
                "raw_id": None,
                "article_id": None,
                "stage": "validate",
                "reason": "entities: Every entity has a type.",
                "detail": "{}",
            }
        ],
        articles_per_source={"seeds": 3},
        docs_path="/docs/index.html",
        pages={"entities": "/docs/validations/entities.html"},
        batch_failures=[],
        seconds=1.25,
        cold_start=True,
    )
    write_validation(path, validation)
    assert read_validation(path) == validation
    assert sorted(file.name for file in path.iterdir()) == sorted([MANIFEST, VALIDATION, "raw_documents.parquet"])
