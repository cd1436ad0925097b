"""The growing tables, published as immutable Parquet segments: a publish writes what the load changed.

In the writer, each row of a segmented table (`tables.SEGMENTED_TABLES`) carries `_segment`: the
published segment that holds it. A load's writes mark what they change (`pipelines.storage.marks`):
new rows have no segment, replaced and updated rows are marked as having left theirs, and deletes list
the segments they took rows from. So a publish finds its work by scans the column's statistics prune to
the row groups a load touched, never by reading or comparing whole tables: the marked and new rows go
into new segments (of about SEGMENT_BYTES each), and each segment that lost rows is written again
without them. Small segments are merged once MERGE_SMALL_AT have piled up, so a table stays a few files
per GB; a table whose columns changed (a migration) is written again whole.

The files are written first, under new names; then, in one writer transaction, the rows are given their
new segments and `published_segments` is updated. Nothing here touches a file a catalog already lists,
so whatever is published stays readable; `pipelines.storage.catalog` lists the segments for readers and
deletes the files no catalog needs any more.
"""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.storage.store import Store
from pipelines.tables import SEGMENT, SEGMENTED_TABLES

# The size a new segment is cut to: small enough to write again quickly when a few of its rows change.
SEGMENT_BYTES = 64 * 2**20
# A segment under this size is merged into the next new one once MERGE_SMALL_AT of them have piled up:
# every publish makes small segments, and a table of thousands of files is slow to open.
SMALL_SEGMENT_BYTES = 16 * 2**20
MERGE_SMALL_AT = 8
# What a row weighs in Parquet before a table has segments to tell (re-measured on a sample then).
SAMPLE_ROWS = 10_000
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd"
# Rows a load wrote since they were published: new (no segment) or marked as having left one.
CHANGED = f"({SEGMENT} IS NULL OR {SEGMENT} < 0)"


@dataclass(frozen=True, slots=True)
class Segment:
    """One published Parquet file of a table, as `published_segments` records it."""

    table: str
    segment: int
    file: str  # relative to the published folder
    row_count: int
    bytes: int
    columns: str


@dataclass(slots=True)
class TablePlan:
    """What a publish writes for one table: new segments (changed rows and what joins them), and rewrites."""

    table: str
    columns: str
    changed: int  # rows written by loads since the last publish
    folded: list[Segment] = field(default_factory=list)  # their rows join the changed ones in the new segments
    rewritten: list[Segment] = field(default_factory=list)  # each written again alone, without the rows it lost
    dropped: list[Segment] = field(default_factory=list)  # hold no row any more
    placeholder: bool = False  # no row and no segment left: one empty file, so the table's view has its columns

    @property
    def changes(self) -> bool:
        return bool(self.changed or self.folded or self.rewritten or self.dropped or self.placeholder)


@dataclass(frozen=True, slots=True)
class Written:
    """A new segment and the rows it took (the SQL condition the writer's rows are given its number by)."""

    segment: Segment
    taken: str


def published(store: Store) -> dict[str, list[Segment]]:
    """Every table's segments, as the last publish left them, oldest first."""
    segments: dict[str, list[Segment]] = {table: [] for table in SEGMENTED_TABLES}
    for row in store.con.execute(
        "SELECT table_name, segment, file, row_count, bytes, columns FROM published_segments"
        " ORDER BY table_name, segment"
    ).fetchall():
        segments.setdefault(row[0], []).append(Segment(*row))
    return segments


def table_columns(store: Store) -> dict[str, str]:
    """Each segmented table's columns as its segments are written (quoted, in order, without `_segment`)."""
    return dict(
        store.con.execute(
            "SELECT table_name, string_agg('\"' || column_name || '\"', ', ' ORDER BY column_index)"
            " FROM duckdb_columns()"
            " WHERE database_name = current_database() AND schema_name = 'main' AND column_name <> ?"
            " AND table_name IN (SELECT unnest(?::VARCHAR[])) GROUP BY table_name",
            [SEGMENT, list(SEGMENTED_TABLES)],
        ).fetchall()
    )


def lost(store: Store) -> dict[str, set[int]]:
    """The segments deletes took rows from since the last publish, per table."""
    found: dict[str, set[int]] = {}
    for table, segment in store.con.execute("SELECT DISTINCT table_name, segment FROM lost_segments").fetchall():
        found.setdefault(table, set()).add(segment)
    return found


def plan(store: Store, table: str, columns: str, segments: list[Segment], deleted_from: set[int]) -> TablePlan:
    """What this publish writes of `table` (`columns`, as `table_columns` gives them): the changed rows, and the
    segments that lost any (marked rows left them, or deletes took rows from them: `deleted_from`)."""
    changed, left = _one(
        store, f"SELECT count(*), list(DISTINCT -{SEGMENT} - 1) FILTER ({SEGMENT} < 0) FROM {table} WHERE {CHANGED}"
    )
    left = {*(left or ()), *deleted_from}
    todo = TablePlan(table, columns, changed)
    kept = []
    for segment in segments:
        if segment.columns != columns:
            todo.rewritten.append(segment)
        elif segment.segment not in left and (segment.row_count or not changed):
            kept.append(segment)
        elif segment.bytes < SMALL_SEGMENT_BYTES:
            todo.folded.append(segment)
        elif _one(store, f"SELECT count(*) FROM {table} WHERE {SEGMENT} = ?", [segment.segment])[0]:
            todo.rewritten.append(segment)
        else:
            todo.dropped.append(segment)
    small = [segment for segment in kept if segment.bytes < SMALL_SEGMENT_BYTES]
    if len(small) >= MERGE_SMALL_AT:
        todo.folded += small
        kept = [segment for segment in kept if segment not in small]
    todo.placeholder = not (kept or todo.rewritten or changed or (todo.folded and _folded_rows(store, todo)))
    return todo


def write(store: Store, folder: Path, todo: TablePlan) -> list[Written]:
    """Write the plan's files: the changed and folded rows cut into segments by row id, then each rewrite."""
    fold = CHANGED + "".join(f" OR {SEGMENT} = {segment.segment}" for segment in todo.folded)
    written = []
    if todo.changed or todo.folded or todo.placeholder:
        bounds = _cuts(store, todo, fold)
        for low, high in itertools.pairwise(bounds):
            taken = f"({fold}) AND rowid >= {low} AND rowid < {high}"
            written.append(Written(_copy(store, folder, todo, taken), taken))
    for segment in todo.rewritten:
        taken = f"{SEGMENT} = {segment.segment}"
        written.append(Written(_copy(store, folder, todo, taken), taken))
    return written


def record(store: Store, todo: TablePlan, written: list[Written]) -> None:
    """Give the rows their new segments and list them; inside the caller's transaction."""
    for new in written:
        store.con.execute(f"UPDATE {todo.table} SET {SEGMENT} = ? WHERE {new.taken}", [new.segment.segment])
    gone = [segment.segment for segment in [*todo.folded, *todo.rewritten, *todo.dropped]]
    store.con.execute(
        "DELETE FROM published_segments WHERE table_name = ? AND segment IN (SELECT unnest(?::BIGINT[]))",
        [todo.table, gone],
    )
    store.con.execute("DELETE FROM lost_segments WHERE table_name = ?", [todo.table])
    for new in written:
        segment = new.segment
        store.con.execute(
            "INSERT INTO published_segments VALUES (?, ?, ?, ?, ?, ?)",
            [segment.table, segment.segment, segment.file, segment.row_count, segment.bytes, segment.columns],
        )


def _cuts(store: Store, todo: TablePlan, fold: str) -> list[int]:
    """Row-id bounds that cut the rows to write into segments of about SEGMENT_BYTES (one, however few)."""
    rows, low, high = _one(store, f"SELECT count(*), min(rowid), max(rowid) FROM {todo.table} WHERE {fold}")
    if not rows:
        return [0, 1]
    pieces = max(1, math.ceil(rows * _row_bytes(store, todo) / SEGMENT_BYTES))
    # Even row-id ranges: the rows a large write adds sit together (an upgrade's, a first round's), and a
    # scattered few make one segment anyway; no quantile to sort millions of row ids for.
    return sorted({low + (high + 1 - low) * index // pieces for index in range(pieces + 1)})


def _row_bytes(store: Store, todo: TablePlan) -> float:
    """Parquet bytes per row of the table: from its segments, else from a sample written aside."""
    (row_count, size) = _one(
        store, "SELECT sum(row_count), sum(bytes) FROM published_segments WHERE table_name = ?", [todo.table]
    )
    if row_count:
        return size / row_count
    sample = Path(store.path).with_name(f".{todo.table}.{uuid.uuid4().hex[:8]}.sample.parquet")
    try:
        (rows,) = _one(
            store,
            f"COPY (SELECT {todo.columns} FROM {todo.table} LIMIT {SAMPLE_ROWS}) TO"
            f" {_literal(sample)} ({PARQUET_OPTIONS})",
        )
        return sample.stat().st_size / max(rows, 1)
    finally:
        sample.unlink(missing_ok=True)


def _folded_rows(store: Store, todo: TablePlan) -> int:
    listed = ", ".join(str(segment.segment) for segment in todo.folded)
    return _one(store, f"SELECT count(*) FROM {todo.table} WHERE {SEGMENT} IN ({listed})")[0]


def _copy(store: Store, folder: Path, todo: TablePlan, taken: str) -> Segment:
    (number,) = _one(store, "SELECT nextval('published_segment_ids')")
    file = f"{todo.table}/{number:010d}-{uuid.uuid4().hex[:8]}.parquet"
    target = folder / file
    target.parent.mkdir(parents=True, exist_ok=True)
    (rows,) = _one(
        store, f"COPY (SELECT {todo.columns} FROM {todo.table} WHERE {taken}) TO {_literal(target)} ({PARQUET_OPTIONS})"
    )
    return Segment(todo.table, number, file, rows, target.stat().st_size, todo.columns)


def _one(store: Store, sql: str, params: list[object] | None = None) -> tuple[Any, ...]:
    """The one row an aggregate (or a COPY, or nextval) returns."""
    (row,) = store.con.execute(sql, params or []).fetchall()  # fetched to the end: the connection is free again
    return tuple(row)


def _literal(path: Path) -> str:
    """A path as a SQL string literal (COPY takes no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"
