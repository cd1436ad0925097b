"""Boilerplate learned from a source's stored history: a template line is removed from a later batch of one file.

Real pipeline (stage, validate, load) into a real DuckDB file; every run reads the same seed folder path,
so all files are one source.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from table_snapshot import scalar

from pipelines.config import Settings
from pipelines.pipeline import ingest_folder

FOOTER = "Harbour Ledger, printed on Quay Street"
LEADS = [
    "The harbour authority approved a new ferry timetable on Monday after months of complaints from commuters.",
    "Fishermen in the northern bay reported their best herring catch in a decade, the cooperative said.",
    "The city's oldest bakery will close at the end of the month after ninety years on Market Square.",
    "Volunteers planted four hundred oak saplings along the river path over the weekend.",
]
SECOND = "Officials said more details would follow later this week, once the council has met to discuss the plan."


def write_story(folder: Path, index: int) -> None:
    (folder / f"story_{index}.txt").write_text(
        f"{LEADS[index]}\n\n{SECOND} Story {index}.\n\n{FOOTER}\n", encoding="utf-8"
    )


def bodies(db_path: Path) -> list[str]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return [body for (body,) in con.execute("SELECT body_text FROM articles ORDER BY body_text").fetchall()]
    finally:
        con.close()


def source_documents(db_path: Path) -> int:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return int(scalar(con.execute("SELECT count(*) FROM source_documents")))
    finally:
        con.close()


@pytest.mark.slow
def test_a_line_the_source_repeated_before_is_removed_from_a_batch_of_one(tmp_path: Path) -> None:
    folder = tmp_path / "input"
    folder.mkdir()
    alone = Settings.from_env(
        db_path=tmp_path / "alone" / "news.duckdb", seeds_dir=folder, staging_dir=tmp_path / "alone" / "staging"
    )
    write_story(folder, 3)
    ingest_folder(alone)
    assert any(FOOTER in body for body in bodies(alone.db_path))  # one document is no history: the line stays

    settings = Settings.from_env(
        db_path=tmp_path / "db" / "news.duckdb", seeds_dir=folder, staging_dir=tmp_path / "db" / "staging"
    )
    (folder / "story_3.txt").unlink()
    for index in range(3):
        write_story(folder, index)
    ingest_folder(settings)
    assert source_documents(settings.db_path) == 3
    assert not any(FOOTER in body for body in bodies(settings.db_path))

    for index in range(3):
        (folder / f"story_{index}.txt").unlink()
    write_story(folder, 3)
    ingest_folder(settings)
    later = bodies(settings.db_path)
    assert len(later) == 4 and not any(FOOTER in body for body in later)
    assert source_documents(settings.db_path) == 4

    ingest_folder(settings)  # the same document again counts once
    assert source_documents(settings.db_path) == 4
