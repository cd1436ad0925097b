"""Tables compared by what they hold: each data table's rows, sorted, without the columns that say when or in which run.

Two loads of the same input must give equal snapshots whatever split them (workers, shards, fetches at once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from pipelines.config import Settings
from pipelines.tables import DATA_TABLES, SEGMENT

# Columns that say when a file was read or a row written, or in which run, not what it holds.
RUN_COLUMNS = frozenset(
    {
        "run_id",
        "created_at",
        "detected_at",
        "fetched_at",
        "finished_at",
        "first_seen_at",
        "last_seen_at",
        "loaded_at",
        "seen_at",
        "started_at",
        "updated_at",
    }
)
# Whole tables about the run itself (timings, run ids as keys).
RUN_TABLES = frozenset({"ingest_runs", "run_source_counts"})


def snapshot(
    db_path: Path, ignored: frozenset[str] = RUN_COLUMNS, tables: frozenset[str] = frozenset(DATA_TABLES) - RUN_TABLES
) -> dict[str, list[str]]:
    """Each of `tables` (the data tables but the run tables) the file holds, as its sorted rows, `ignored` columns
    left out (a file an older schema made lacks the tables later migrations add)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = {}
        for table in sorted(tables):
            columns = [
                name
                for (name,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                    [table],
                ).fetchall()
                if name not in ignored
            ]
            if not columns:
                continue
            quoted = ", ".join(f'"{column}"' for column in columns)
            rows[table] = sorted(map(repr, con.execute(f"SELECT {quoted} FROM {table}").fetchall()))
        return rows
    finally:
        con.close()


def first_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The first row of an executed query (`con.execute(...)`); a query that returned no row fails here."""
    row = result.fetchone()
    assert row is not None, "the query returned no row"
    return row


def scalar(result: duckdb.DuckDBPyConnection) -> Any:
    """The first value of the first row of an executed query (`con.execute(...)`)."""
    return first_row(result)[0]


def published_equals_writer(settings: Settings) -> None:
    """Every table, every row, every column: what readers open (the catalog over the segments) against the writer."""
    every = frozenset(DATA_TABLES)
    published = snapshot(settings.db_path, frozenset(), every)
    written = snapshot(settings.writer_db_path, frozenset({SEGMENT}), every)
    for table in sorted(every):
        assert published[table] == written[table], table
