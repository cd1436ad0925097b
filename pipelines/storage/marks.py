"""How a write tells the next publish what it changed, without the publish reading whole tables.

A row of a segmented table (`tables.SEGMENTED_TABLES`) knows the published segment that holds it
(`_segment`). A row a load writes anew has none (NULL); a row it replaces or updates is marked as having
left its segment (`-segment - 1`), so the publish rewrites that segment without it and puts the row in a
new one; a row it deletes leaves its segment's number in `lost_segments`. Each of these is found by a
scan the column's statistics prune to the row groups a load touched (`pipelines.storage.segments`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb

from pipelines.tables import SEGMENT, SEGMENTED_TABLES


def left(row: str) -> str:
    """The value a replaced or updated row (`row`: the table or its alias) takes: it left its segment (NULL stays)."""
    return f"CASE WHEN {row}.{SEGMENT} >= 0 THEN -{row}.{SEGMENT} - 1 ELSE {row}.{SEGMENT} END"


def replace_statement(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], view: str) -> str:
    """INSERT OR REPLACE for `table` from `view`; a replaced row of a segmented table is marked as having left."""
    if table not in SEGMENTED_TABLES:
        return f"INSERT OR REPLACE INTO {table} BY NAME SELECT * FROM {view}"
    keys = _primary_key(con, table)
    updates = ", ".join(
        f'"{column}" = excluded."{column}"' for column in columns if column not in keys and column != SEGMENT
    )
    return (
        f"INSERT INTO {table} BY NAME SELECT * EXCLUDE ({SEGMENT}) FROM {view}"
        f" ON CONFLICT DO UPDATE SET {updates}, {SEGMENT} = {left(table)}"
    )


def record_losses(con: duckdb.DuckDBPyConnection, table: str, segments: Iterable[int | None]) -> None:
    """The published segments deleted rows were in, or had left (rows not published yet were in none)."""
    lost = sorted({segment if segment >= 0 else -segment - 1 for segment in segments if segment is not None})
    if lost and table in SEGMENTED_TABLES:
        con.execute("INSERT INTO lost_segments SELECT ?, unnest(?::BIGINT[])", [table, lost])


_KEYS: dict[str, frozenset[str]] = {}


def _primary_key(con: duckdb.DuckDBPyConnection, table: str) -> frozenset[str]:
    """The table's key columns (the same in every newsflow database: the migrations make them)."""
    if table not in _KEYS:
        found = con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = ?"
            " AND constraint_type = 'PRIMARY KEY' AND database_name = current_database()",
            [table],
        ).fetchall()
        _KEYS[table] = frozenset(found[0][0]) if found else frozenset()
    return _KEYS[table]
