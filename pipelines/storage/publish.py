"""The writer's private database and the snapshot it publishes: the file every reader opens.

DuckDB lets one process write a database file and then locks every other process out, readers
included. So the loads write a private file (`Settings.writer_db_path`, nobody else opens it) and,
after each load, publish a copy at `Settings.db_path`: written under a temporary name, flushed to
disk, then renamed into place. A reader keeps the file it opened (a rename swaps the name, not an
open file), so a session held across loads never blocks one and is never broken, and a new session
sees the new rows. A writer killed while publishing leaves a stray temporary file, never a partial
snapshot.

A load that changed nothing analysts query (every feed answered 304, every file was loaded before) is
not published: copying the whole database for it would cost what the history weighs, every tick. The
feed state such a load committed, which the next tick's plan needs (a feed that just answered 304 is not
due again), is saved beside the published file instead (`Settings.feed_state_path`, a small Parquet
file of every feed's row, written after every load); `feed_states` reads the newer of the two. The
snapshot's own polling tables catch up with the next publish, at the latest `REPUBLISH_AFTER` later.

Both files are in a storage format DuckDB 1.x reads (`PUBLISHED_STORAGE_VERSION`), because analysts'
tools (the DuckDB CLI from PyPI, DBeaver, R and Node drivers) lag DuckDB's newest major. The writer
file is created in that format, so publishing is a plain byte copy of a checkpointed file.
"""

from __future__ import annotations

import os
import shutil
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
from pipelines.storage.store import Store, latest_schema_version

# What `ATTACH … (STORAGE_VERSION …)` calls the format; DuckDB tags such a file 'v1.4.0+'.
PUBLISHED_STORAGE_VERSION = "v1.4.0"
TEMPORARY_SUFFIX = ".publishing"
# A snapshot older than this is published again even by a load that changed no article: its runs, requests
# and feed states (the data-quality page's feed health) never lag the polls by more.
REPUBLISH_AFTER = timedelta(hours=1)
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Published:
    """What one publication cost: the snapshot's path and the bytes copied to write it."""

    path: Path
    bytes_copied: int


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
    """The writer's private database, in the published storage format.

    When it does not exist yet but a published file does (an install from before the writer had a file
    of its own, or a writer file that was deleted), it starts as a copy of that file, so nothing loaded
    before is lost.
    """
    path = settings.writer_db_path
    if not path.exists() and settings.db_path.exists():
        copy_database(settings.db_path, path)
    elif path.exists() and not _in_published_format(path, settings.schemas_dir):
        converted = temporary_path(path)
        copy_database(path, converted)
        os.replace(converted, path)
    with Store.open(path, settings.schemas_dir, storage_version=PUBLISHED_STORAGE_VERSION) as store:
        yield store


def publish(store: Store, target: Path) -> Published:
    """Publish the writer's committed state at `target`, atomically.

    The writer's connection stays open throughout, so no other process can write the file while it is
    copied; the checkpoint first moves everything from the write-ahead log into the file.
    """
    store.con.execute("CHECKPOINT")
    target.parent.mkdir(parents=True, exist_ok=True)
    for stray in target.parent.glob(f".{target.name}.*{TEMPORARY_SUFFIX}"):
        stray.unlink(missing_ok=True)  # left by a writer killed while publishing
    tmp = temporary_path(target)
    shutil.copyfile(store.path, tmp)
    _flush(tmp)
    # A write-ahead log beside the published name belongs to the file being replaced (a session that
    # opened it read-write); replayed onto the new snapshot it would corrupt it.
    target.with_name(target.name + ".wal").unlink(missing_ok=True)
    os.replace(tmp, target)
    _flush(target.parent)
    return Published(target, target.stat().st_size)


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
        store.con.execute(f"COPY (SELECT * FROM feed_state ORDER BY source_id) TO {_sql_string(tmp)} (FORMAT parquet)")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def feed_states(settings: Settings) -> dict[str, FeedState]:
    """Each feed's polling state: the snapshot's, or the newer one the last load saved beside it."""
    with read_view(settings) as view:
        states = {state.source_id: state for state in view.feed_states()} if view else {}
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
        con.execute(f"ATTACH {_sql_string(source)} AS source_db (READ_ONLY)")
        con.execute(f"ATTACH {_sql_string(target)} AS target_db (STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')")
        con.execute("COPY FROM DATABASE source_db TO target_db")
    finally:
        con.close()


def _sql_string(path: Path) -> str:
    """A path as a SQL string literal (ATTACH takes no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def _in_published_format(path: Path, schemas_dir: Path) -> bool:
    with Store.open(path, schemas_dir, read_only=True) as store:
        return store.storage_version().startswith(PUBLISHED_STORAGE_VERSION)


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
