"""The only place that holds a DuckDB connection: migrations, transactions, and typed reads and writes.

It decides nothing: what a load writes is decided by pipelines.storage.load and the pure planners it
calls (versions, dedup); this module only runs their SQL. Only table names from pipelines.tables (and
column names written in code) are interpolated into SQL; every value is a `?` parameter or an Arrow
table registered under a name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.dedup import Candidate, DedupEntry, as_utc
from pipelines.ids import sha256_hex
from pipelines.nlp.entities import KnownEntities
from pipelines.records import Entity, EntityAlias, FeedState
from pipelines.storage.staging import Manifest, Validation
from pipelines.storage.versions import StoredVersion
from pipelines.tables import DATA_TABLES, check_table

MIGRATION_FILE = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)\.sql$")
# Column types Arrow must not guess: 64-bit hashes above 2**63 overflow its default int64.
ARROW_TYPES = {"UBIGINT": pa.uint64(), "UBIGINT[]": pa.list_(pa.uint64())}
# The name an Arrow table is registered under while one statement reads it.
ARROW_VIEW = "arrow_rows"
# Counts a stage reports itself (in its manifest) and ingest_runs keeps, summed over a run's stages.
STAGE_COUNTS = ("feeds_polled", "feeds_failed", "items_seen", "items_already_seen", "pages_fetched")


class MigrationError(RuntimeError):
    """A migration file changed after it was applied, or a file name breaks the NNN_name.sql rule."""


@dataclass(frozen=True, slots=True)
class LoadCounts:
    """What one load did, as `ingest_runs` records it."""

    run_id: str
    inputs: int
    unchanged: int
    articles_new: int
    articles_updated: int
    articles_same: int
    skipped: int
    quarantined: int
    stage_counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an article's latest entry came from."""

    raw_id: str
    url: str | None
    source_id: str


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
    def open(cls, path: Path, schemas_dir: Path, *, read_only: bool = False) -> Iterator[Store]:
        """Open (creating the file and applying pending migrations unless read-only) and always close."""
        if read_only and not path.exists():
            raise FileNotFoundError(f"no database at {path}; run `newsflow ingest` first")
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
        try:
            store = cls(con, path)
            if not read_only:
                store.migrate(schemas_dir)
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
    def _arrow(self, table: pa.Table) -> Iterator[str]:
        """Register an Arrow table for the statements inside the block; yields the name SQL reads it by.

        After a failed statement DuckDB refuses every call until the rollback, unregister included: the
        name then stays registered until the next block replaces it or the connection closes.
        """
        self.con.register(ARROW_VIEW, table)
        yield ARROW_VIEW
        self.con.unregister(ARROW_VIEW)

    def insert(self, table: str, rows: Sequence[dict[str, Any]], *, on_conflict: str | None = None) -> None:
        """Insert dict rows by column name through Arrow; the table's DDL decides types, never the frame."""
        if not rows:
            return
        check_table(table)
        columns = self._columns(table)
        arrow_rows = pa.table({
            column: pa.array([row.get(column) for row in rows], type=ARROW_TYPES.get(data_type))
            for column, data_type in columns.items()
        })
        verb = {None: "INSERT", "NOTHING": "INSERT OR IGNORE", "REPLACE": "INSERT OR REPLACE"}[on_conflict]
        with self._arrow(arrow_rows) as view:
            self.con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM {view}")

    def existing(self, table: str, key: str, ids: Iterable[str]) -> set[str]:
        """The given keys that `table` already holds."""
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        check_table(table)
        found = self.con.execute(f"SELECT {key} FROM {table} WHERE {key} IN (SELECT unnest(?::VARCHAR[]))", [wanted])
        return {value for (value,) in found.fetchall()}

    def delete(self, table: str, key: str, ids: Sequence[str]) -> None:
        check_table(table)
        self.con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT unnest(?::VARCHAR[]))", [list(ids)])

    def _columns(self, table: str) -> dict[str, str]:
        return dict(self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall())

    # --- runs ------------------------------------------------------------------------------

    def record_run(
        self, manifest: Manifest, status: str, now: datetime, *, counts: LoadCounts | None = None,
        validation: Validation | None = None, error: str | None = None,
    ) -> None:
        """The run's `ingest_runs` row: its counts, the stage counts and the validation verdict it loaded with."""
        values = counts.as_dict() if counts else {}
        extra = counts.stage_counts if counts else {}
        quality = {
            "validation_success": validation.success, "validated_rows": validation.validated,
            "rejected_rows": len(validation.rejected), "quality_docs": validation.docs_path,
            "quality_pages": json.dumps(validation.pages), "validation_seconds": validation.seconds,
            "validation_cold_start": validation.cold_start,
        } if validation else {}
        self.insert("ingest_runs", [{
            **values, **{name: extra.get(name) for name in STAGE_COUNTS}, **quality,
            "run_id": manifest.run_id, "started_at": manifest.started_at, "finished_at": now, "status": status,
            "trigger": manifest.trigger, "error": error,
        }], on_conflict="REPLACE")

    def record_failed_run(self, manifest: Manifest, error: str) -> None:
        """Leave a trace of a failed load in its own transaction; the stage stays on disk for the retry."""
        with self.transaction():
            self.record_run(manifest, "failed", utc_now(), error=error)

    # --- articles and stories --------------------------------------------------------------

    def current_versions(self, article_ids: Iterable[str]) -> dict[str, StoredVersion]:
        """Latest version, its content hash and the first load time of each stored article among `article_ids`."""
        found = self._per_article("article_versions", "max(version), arg_max(content_hash, version), min(loaded_at)",
                                  article_ids)
        return {article_id: StoredVersion(version, content_hash, first_seen)
                for article_id, version, content_hash, first_seen in found}

    def check_dedup_index(self, index_key: str) -> None:
        """Stored signatures are only comparable with ones made the same way: record the key once, refuse another."""
        stored = self.con.execute("SELECT index_key FROM dedup_state").fetchall()
        if not stored:
            self.con.execute("INSERT INTO dedup_state VALUES (?)", [index_key])
        elif stored[0][0] != index_key:
            raise RuntimeError(
                f"stored dedup signatures were made with {stored[0][0]}, this code uses {index_key}; "
                "rebuild them before loading"
            )

    def dedup_candidates(self, entries: Sequence[DedupEntry], band_hashes: Sequence[int]) -> list[Candidate]:
        """Stored entries sharing an article id, a fingerprint or an LSH band with the batch: one join, no scan of pairs."""
        # An Arrow uint64 column: Python ints above 2**63 would not bind exactly as a parameter.
        probe = pa.table({"band_hash": pa.array(band_hashes, type=pa.uint64())})
        with self._arrow(probe) as batch_bands:
            found = self.con.execute(
                "SELECT s.article_id, s.fingerprint, s.signature, s.seen_at, st.story_id"
                " FROM article_signatures s JOIN article_stories st USING (article_id)"
                " WHERE s.article_id IN (SELECT unnest(?::VARCHAR[]))"
                " OR s.fingerprint IN (SELECT unnest(?::VARCHAR[]))"
                f" OR s.article_id IN (SELECT b.article_id FROM dedup_bands b JOIN {batch_bands} USING (band_hash))",
                [[e.article_id for e in entries], [e.fingerprint for e in entries if e.fingerprint]],
            ).fetchall()
        return [Candidate(_entry(row), row[4]) for row in found]

    def story_entries(self, story_id: str) -> list[DedupEntry]:
        """Every stored entry of one story."""
        found = self.con.execute(
            "SELECT s.article_id, s.fingerprint, s.signature, s.seen_at FROM article_signatures s"
            " JOIN article_stories st USING (article_id) WHERE st.story_id = ?",
            [story_id],
        ).fetchall()
        return [_entry(row) for row in found]

    def latest_provenance(self, article_ids: Iterable[str]) -> dict[str, Provenance]:
        """Raw input, URL and source of each article's latest seen entry: what its duplicate row points to."""
        found = self._per_article(
            "article_signatures", "arg_max(raw_id, seen_at), arg_max(url, seen_at), arg_max(source_id, seen_at)",
            article_ids,
        )
        return {article_id: Provenance(raw_id, url, source_id) for article_id, raw_id, url, source_id in found}

    def _per_article(self, table: str, aggregates: str, article_ids: Iterable[str]) -> list[tuple[Any, ...]]:
        """(article_id, *aggregates) over `table`'s rows of each of `article_ids` that it holds."""
        return self.con.execute(
            f"SELECT article_id, {aggregates} FROM {check_table(table)}"
            " WHERE article_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY article_id",
            [sorted(set(article_ids))],
        ).fetchall()

    # --- reading ---------------------------------------------------------------------------

    def recent_source_counts(self, source_ids: list[str], runs: int = 10) -> dict[str, list[int]]:
        """Articles per loaded run for each source, oldest first: the history batch volume checks compare to."""
        history: dict[str, list[int]] = {}
        for source_id, articles in self.con.execute(
            "SELECT source_id, articles FROM ("
            " SELECT source_id, articles, loaded_at, row_number() OVER (PARTITION BY source_id ORDER BY loaded_at DESC) AS n"
            " FROM run_source_counts WHERE source_id IN (SELECT unnest(?::VARCHAR[])))"
            " WHERE n <= ? ORDER BY source_id, loaded_at",
            [source_ids, runs],
        ).fetchall():
            history.setdefault(source_id, []).append(int(articles))
        return history

    def known_entities(self) -> KnownEntities:
        """Every stored entity and alias: name resolution in a new batch starts from them."""
        entities = tuple(Entity(entity_id, name, type_) for entity_id, name, type_ in
                         self.con.execute("SELECT entity_id, name, type FROM entities ORDER BY entity_id").fetchall())
        aliases = tuple(EntityAlias(entity_id, alias) for entity_id, alias in
                        self.con.execute("SELECT entity_id, alias FROM entity_aliases ORDER BY ALL").fetchall())
        return KnownEntities(entities, aliases)

    def feed_states(self) -> list[FeedState]:
        return [FeedState(**row) for row in self._dicts("SELECT * FROM feed_state ORDER BY name")]

    def seen_items(self, source_id: str, keys: list[str], urls: list[str]) -> set[str]:
        """Item keys of this feed, and canonical URLs from any feed or article, that were seen before."""
        found = self.con.execute(
            "SELECT item_key FROM feed_items WHERE source_id = ? AND item_key IN (SELECT unnest(?::VARCHAR[]))"
            " UNION SELECT url FROM feed_items WHERE url IN (SELECT unnest(?::VARCHAR[]))"
            " UNION SELECT url FROM articles WHERE url IN (SELECT unnest(?::VARCHAR[]))",
            [source_id, list(keys), list(urls), list(urls)],
        ).fetchall()
        return {value for (value,) in found}

    def _dicts(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
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


def _entry(row: tuple[Any, ...]) -> DedupEntry:
    article_id, fingerprint, signature, seen_at = row[:4]
    return DedupEntry(article_id, fingerprint, tuple(signature or ()), as_utc(seen_at))


def utc_now() -> datetime:
    return datetime.now(UTC)
