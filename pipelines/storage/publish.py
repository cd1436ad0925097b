"""The writer's private database, and what it publishes for every reader: a catalog over Parquet segments.

DuckDB lets one process write a database file and then locks every other process out, readers
included. So the loads write a private file (`Settings.writer_db_path`, nobody else opens it) and,
after a load, publish what changed: the rows it wrote go into new immutable Parquet segments
(`pipelines.storage.segments`: a publish costs what the load changed, not what is stored), then a new
catalog (`pipelines.storage.catalog`: a small DuckDB file of views over the segments, in a format
DuckDB 1.4 and later read) is renamed into place at `Settings.db_path`. A reader keeps the catalog it
opened and the files it lists, so a session held across loads never blocks one and is never broken,
and a new session sees the new rows. A writer killed while publishing leaves the previous catalog and
its files complete; the next publish writes what is missing.

A load that changed nothing analysts query (every feed answered 304, every file was loaded before) is
not published at all. The feed state such a load committed, which the next tick's plan needs (a feed
that just answered 304 is not due again), is saved beside the published file instead
(`Settings.feed_state_path`, every feed's row, written after every load); `feed_states` reads the newer
of the two. The snapshot's own polling tables catch up with the next publish, at the latest
`REPUBLISH_AFTER` later.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from pipelines.config import Settings
from pipelines.records import FeedState
from pipelines.storage import feed_queries, segments
from pipelines.storage.catalog import (
    PUBLISHED_STORAGE_VERSION,
    collect_garbage,
    is_catalog,
    manifest_files,
    published_folder,
    put_in_place,
    sql_string,
    write_catalog,
)
from pipelines.storage.store import NO_PROGRESS_BAR, Store, latest_schema_version
from pipelines.tables import PUBLISHED_WHOLE, SEGMENTED_TABLES

TEMPORARY_SUFFIX = ".publishing"
# A snapshot older than this is published again even by a load that changed no article: its runs, requests
# and feed states (the data-quality page's feed health) never lag the polls by more.
REPUBLISH_AFTER = timedelta(hours=1)
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Published:
    """What one publication wrote: the catalog's path and number, the bytes of new segments, and those freed."""

    path: Path
    snapshot: int
    bytes_written: int
    bytes_freed: int


@contextmanager
def read_view(settings: Settings) -> Iterator[Store | None]:
    """The published snapshot, read-only: tasks read state without ever meeting the writer's lock.

    None before the first load, and while the snapshot predates the current schema (the next load
    republishes it).
    """
    if not settings.db_path.exists():
        yield None
        return
    with Store.open(settings.db_path, settings.schemas_dir, read_only=True) as store:
        yield store if store.schema_version() >= latest_schema_version(settings.schemas_dir) else None


@contextmanager
def open_writer(settings: Settings) -> Iterator[Store]:
    """The writer's private database.

    When it does not exist yet but a published file does (an install from before the writer had a file
    of its own, or a writer file that was deleted), it starts from what was published, so nothing loaded
    before is lost: a single-file snapshot (what older installs published) is copied whole, a catalog's
    tables are read back from their segments.
    """
    path = settings.writer_db_path
    if not path.exists() and settings.db_path.exists():
        if is_catalog(settings.db_path):
            _adopt_catalog(settings)
        else:
            copy_database(settings.db_path, path)
    with Store.open(path, settings.schemas_dir) as store:
        yield store


def publish(store: Store, settings: Settings) -> Published:
    """Publish the writer's committed state: new segments for what changed, then a new catalog in one rename.

    Files first, then the writer's record of them (one transaction), then the catalog: killed at any
    point, the published catalog and every file it lists are untouched.
    """
    target = settings.db_path
    folder = published_folder(target)
    listed, columns, lost = segments.published(store), segments.table_columns(store), segments.lost(store)
    plans = [
        plan
        for table in SEGMENTED_TABLES
        if (plan := segments.plan(store, table, columns[table], listed[table], lost.get(table, set()))).changes
    ]
    written = {plan.table: segments.write(store, folder, plan) for plan in plans}
    with store.transaction():
        for plan in plans:
            segments.record(store, plan, written[plan.table])
    for stray in target.parent.glob(f".{target.name}.*{TEMPORARY_SUFFIX}"):
        stray.unlink(missing_ok=True)  # left by a writer killed while publishing
    tmp = temporary_path(target)
    listed = segments.published(store)
    number = write_catalog(store, target, tmp, listed, settings.schemas_dir)
    # A write-ahead log beside the published name belongs to the file being replaced (a session that
    # opened it read-write); replayed onto the new catalog it would corrupt it.
    target.with_name(target.name + ".wal").unlink(missing_ok=True)
    put_in_place(target, tmp, number, listed)
    return Published(
        target, number, sum(new.segment.bytes for files in written.values() for new in files), collect_garbage(target)
    )


def is_current(settings: Settings, now: datetime) -> bool:
    """Whether the snapshot needs no publish of its own: it exists, has the writer's schema, and is recent."""
    path = settings.db_path
    if not path.exists() or now.timestamp() - path.stat().st_mtime > REPUBLISH_AFTER.total_seconds():
        return False
    with read_view(settings) as view:
        return view is not None


def save_feed_state(store: Store, path: Path) -> None:
    """Every feed's committed polling state, beside the snapshot, replaced in one rename."""
    tmp = temporary_path(path)
    try:
        store.con.execute(f"COPY (SELECT * FROM feed_state ORDER BY source_id) TO {sql_string(tmp)} (FORMAT parquet)")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def feed_states(settings: Settings) -> dict[str, FeedState]:
    """Each feed's polling state: the snapshot's, or the newer one the last load saved beside it."""
    with read_view(settings) as view:
        states = {state.source_id: state for state in feed_queries.feed_states(view)} if view else {}
    saved = settings.feed_state_path
    if saved.exists():
        for row in pq.read_table(saved).to_pylist():
            state = FeedState(**row)
            known = states.get(state.source_id)
            if known is None or (state.last_polled_at or _NEVER) >= (known.last_polled_at or _NEVER):
                states[state.source_id] = state
    return states


def copy_database(source: Path, target: Path) -> None:
    """Rewrite a whole database (tables, constraints, indexes, views) into a new file in the published format."""
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(NO_PROGRESS_BAR)
        con.execute(f"ATTACH {sql_string(source)} AS source_db (READ_ONLY)")
        con.execute(f"ATTACH {sql_string(target)} AS target_db (STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')")
        con.execute("COPY FROM DATABASE source_db TO target_db")
    finally:
        con.close()


def _adopt_catalog(settings: Settings) -> None:
    """A writer rebuilt from a published catalog: its small tables, and the segments the manifest lists."""
    with Store.open(settings.writer_db_path, settings.schemas_dir) as store, store.transaction():
        store.con.execute(f"ATTACH {sql_string(settings.db_path)} AS published (READ_ONLY)")
        for table in PUBLISHED_WHOLE:
            if table != "schema_migrations":
                store.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM published."{table}"')
        for table, files in manifest_files(settings.db_path).items():
            listed = ", ".join(sql_string(file) for file in files)
            store.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM read_parquet([{listed}])')
        store.con.execute("DETACH published")


def temporary_path(path: Path) -> Path:
    """A hidden name beside `path` to write it under before one rename makes it `path`."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{TEMPORARY_SUFFIX}")


def _flush(path: Path) -> None:
    """fsync a file or a directory, so a rename never makes a name point at data not yet on disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
