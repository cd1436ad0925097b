"""The only place that holds a DuckDB connection: migrations, transactions, and generic reads and writes.

It decides nothing: what a load writes is decided by the load's steps (pipelines.storage.load) and the
pure planners they call (versions, dedup, entities); this module and the query modules over it
(`run_queries`, `dedup_queries`, `entity_queries`, `feed_queries`) only run their SQL. Only table names
from pipelines.tables (and
column names written in code) are interpolated into SQL; every value is a `?` parameter or an Arrow
table registered under a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.ids import sha256_hex
from pipelines.storage import marks
from pipelines.tables import DATA_TABLES, SEGMENT, SEGMENTED_TABLES, check_table

MIGRATION_FILE = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)\.sql$")
# Column types Arrow must not guess: 64-bit hashes above 2**63 overflow its default int64.
ARROW_TYPES = {
    "UBIGINT": pa.uint64(),
    "UBIGINT[]": pa.list_(pa.uint64()),
    "MAP(VARCHAR, DOUBLE)": pa.map_(pa.string(), pa.float64()),
}
# DuckDB draws a progress bar on stdout for a statement over 2 s: into the CLI's JSON output and task logs.
NO_PROGRESS_BAR = "SET enable_progress_bar = false"
ARROW_VIEW = "arrow_rows"  # the name an Arrow table is registered under while one statement reads it


class MigrationError(RuntimeError):
    """A migration file changed after it was applied, or a file name breaks the NNN_name.sql rule."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return sha256_hex(self.sql)


def discover_migrations(schemas_dir: Path) -> list[Migration]:
    folder = schemas_dir / "migrations"
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNN_name.sql")
        migrations.append(Migration(int(match["version"]), match["name"], path.read_text(encoding="utf-8")))
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{folder}: two migrations share a version number")
    return migrations


def latest_schema_version(schemas_dir: Path) -> int:
    return max((migration.version for migration in discover_migrations(schemas_dir)), default=0)


class Store:
    """A DuckDB database file with newsflow's schema applied."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path

    @classmethod
    @contextmanager
    def open(
        cls, path: Path, schemas_dir: Path, *, read_only: bool = False, storage_version: str | None = None
    ) -> Iterator[Store]:
        """Open and always close; unless read-only, create the file, apply pending migrations and the views.
        `storage_version`: the on-disk format a new file is written in (e.g. "v1.4.0"); a file keeps its own."""
        if read_only and not path.exists():
            raise FileNotFoundError(f"no database at {path}; run `newsflow ingest` first")
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, str | bool | int | float | list[str]] = (
            {"storage_compatibility_version": storage_version} if storage_version else {}
        )
        con = duckdb.connect(str(path), read_only=read_only, config=config)
        try:
            con.execute(NO_PROGRESS_BAR)
            store = cls(con, path)
            if not read_only:
                store.migrate(schemas_dir)
                store.apply_views(schemas_dir)
            yield store
        finally:
            con.close()

    # --- schema ----------------------------------------------------------------------------

    def migrate(self, schemas_dir: Path) -> list[int]:
        """Apply pending migrations in order, each in its own transaction; refuse edited applied ones."""
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL)"
        )
        applied = dict(self.con.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        done: list[int] = []
        for migration in discover_migrations(schemas_dir):
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:03d}_{migration.name} was edited after it was applied; "
                        "add a new migration instead"
                    )
                continue
            with self.transaction():
                self.con.execute(migration.sql)
                self.con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                    [migration.version, migration.name, migration.checksum, utc_now()],
                )
            done.append(migration.version)
        return done

    def apply_views(self, schemas_dir: Path) -> list[str]:
        """(Re)create the analysts' views from `schemas/views/<name>.sql`, in file-name order, in one transaction.

        Views hold no data, so unlike migrations they are replaced on every open: an edited view file
        takes effect on the next load and reaches the published file with it, and a view whose file
        was deleted is dropped.
        """
        files = sorted((schemas_dir / "views").glob("*.sql"))
        names = [path.stem for path in files]
        with self.transaction():
            stale = set(self._views()) - set(names)
            for name in sorted(stale):
                self.con.execute(f'DROP VIEW "{name}"')
            for path in files:
                self.con.execute(path.read_text(encoding="utf-8"))
            missing = set(names) - set(self._views())
            if missing:
                raise MigrationError(
                    f"{schemas_dir / 'views'}: each file must create the view it is named after: {sorted(missing)}"
                )
        return names

    def _views(self) -> list[str]:
        found = self.con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND database_name = current_database()"
        )
        return [name for (name,) in found.fetchall()]

    def storage_version(self) -> str:
        """The on-disk format of this file as DuckDB tags it, e.g. 'v1.4.0+' or 'v2.0.0+'."""
        row = self.con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
        return str(row[0]) if row and row[0] else ""

    def schema_version(self) -> int:
        row = self.con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # --- generic writes --------------------------------------------------------------------

    @contextmanager
    def arrow(self, table: pa.Table) -> Iterator[str]:
        """Register an Arrow table for the statements inside the block; yields the name SQL reads it by.

        After a failed statement DuckDB refuses every call until the rollback, unregister included: the
        name then stays registered until the next block replaces it or the connection closes.
        """
        self.con.register(ARROW_VIEW, table)
        yield ARROW_VIEW
        self.con.unregister(ARROW_VIEW)

    def insert(self, table: str, rows: Sequence[dict[str, Any]], *, on_conflict: str | None = None) -> None:
        """Insert dict rows by column name through Arrow; the table's DDL decides types, never the frame.
        A replaced row is marked for the next publish (`marks`), as are the segments deleted rows were in."""
        if not rows:
            return
        columns = self.columns(check_table(table))
        arrow_rows = pa.table(
            {
                column: pa.array([row.get(column) for row in rows], type=ARROW_TYPES.get(data_type))
                for column, data_type in columns.items()
            }
        )
        with self.arrow(arrow_rows) as view:
            self.con.execute(
                marks.replace_statement(self.con, table, list(columns), view)
                if on_conflict == "REPLACE"
                else f"{'INSERT OR IGNORE' if on_conflict else 'INSERT'} INTO {table} BY NAME SELECT * FROM {view}"
            )

    def existing(self, table: str, key: str, ids: Iterable[str]) -> set[str]:
        """The given keys that `table` already holds."""
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        check_table(table)
        found = self.con.execute(f"SELECT {key} FROM {table} WHERE {key} IN (SELECT unnest(?::VARCHAR[]))", [wanted])
        return {value for (value,) in found.fetchall()}

    def delete(self, table: str, key: str, ids: Sequence[str]) -> None:
        found = self.con.execute(
            f"DELETE FROM {check_table(table)} WHERE {key} IN (SELECT unnest(?::VARCHAR[]))"
            f" RETURNING {SEGMENT if table in SEGMENTED_TABLES else 'NULL'}",
            [list(ids)],
        )
        marks.record_losses(self.con, table, (segment for (segment,) in found.fetchall()))

    def columns(self, table: str) -> dict[str, str]:
        return dict(
            self.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?"
                " ORDER BY ordinal_position",
                [table],
            ).fetchall()
        )

    def dicts(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params or [])
        columns = [column[0] for column in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """An analyst's SQL, as column names and rows (`newsflow query`; open the store read-only for it)."""
        cursor = self.con.execute(sql)
        return [column[0] for column in cursor.description or []], cursor.fetchall()

    def table_counts(self) -> dict[str, int]:
        counts = {}
        for table in DATA_TABLES:
            row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[table] = int(row[0]) if row else 0
        return counts


def utc_now() -> datetime:
    return datetime.now(UTC)
