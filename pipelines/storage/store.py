"""The only place that holds a DuckDB connection: migrations, transactions, and typed reads and writes.

It decides nothing: what a load writes is decided by pipelines.storage.load and the pure planners it
calls (versions, dedup); this module only runs their SQL. Only table names from pipelines.tables (and
column names written in code) are interpolated into SQL; every value is a `?` parameter or an Arrow
table registered under a name.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.dedup import Candidate, DedupEntry, as_utc
from pipelines.http.robots import RobotsRecord
from pipelines.ids import sha256_hex
from pipelines.nlp.entities import ArticleEntity, NameForm
from pipelines.quality.verdict import HISTORY_BATCHES
from pipelines.records import Entity, EntityAlias, FeedState
from pipelines.storage import marks
from pipelines.storage.staging import Manifest, Validation
from pipelines.storage.versions import StoredVersion
from pipelines.tables import DATA_TABLES, SEGMENT, SEGMENTED_TABLES, check_table

MIGRATION_FILE = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)\.sql$")
# Column types Arrow must not guess: 64-bit hashes above 2**63 overflow its default int64.
ARROW_TYPES = {"UBIGINT": pa.uint64(), "UBIGINT[]": pa.list_(pa.uint64()),
               "MAP(VARCHAR, DOUBLE)": pa.map_(pa.string(), pa.float64())}
# DuckDB draws a progress bar on stdout for a statement over 2 s: into the CLI's JSON output and task logs.
NO_PROGRESS_BAR = "SET enable_progress_bar = false"
ARROW_VIEW = "arrow_rows"  # the name an Arrow table is registered under while one statement reads it
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
    published: bool = False  # whether the load published the snapshot (not stored: `ingest_runs` has no column)

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
    def open(cls, path: Path, schemas_dir: Path, *, read_only: bool = False,
             storage_version: str | None = None) -> Iterator[Store]:
        """Open and always close; unless read-only, create the file, apply pending migrations and the views.
        `storage_version`: the on-disk format a new file is written in (e.g. "v1.4.0"); a file keeps its own."""
        if read_only and not path.exists():
            raise FileNotFoundError(f"no database at {path}; run `newsflow ingest` first")
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        config = {"storage_compatibility_version": storage_version} if storage_version else {}
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
                raise MigrationError(f"{schemas_dir / 'views'}: each file must create the view it is named after: {sorted(missing)}")
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
    def _arrow(self, table: pa.Table) -> Iterator[str]:
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
        columns = self._columns(check_table(table))
        arrow_rows = pa.table({column: pa.array([row.get(column) for row in rows], type=ARROW_TYPES.get(data_type))
                               for column, data_type in columns.items()})
        with self._arrow(arrow_rows) as view:
            self.con.execute(marks.replace_statement(self.con, table, list(columns), view) if on_conflict == "REPLACE"
                             else f"{'INSERT OR IGNORE' if on_conflict else 'INSERT'} INTO {table} BY NAME SELECT * FROM {view}")

    def existing(self, table: str, key: str, ids: Iterable[str]) -> set[str]:
        """The given keys that `table` already holds."""
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        check_table(table)
        found = self.con.execute(f"SELECT {key} FROM {table} WHERE {key} IN (SELECT unnest(?::VARCHAR[]))", [wanted])
        return {value for (value,) in found.fetchall()}

    def delete(self, table: str, key: str, ids: Sequence[str]) -> None:
        found = self.con.execute(f"DELETE FROM {check_table(table)} WHERE {key} IN (SELECT unnest(?::VARCHAR[]))"
                                 f" RETURNING {SEGMENT if table in SEGMENTED_TABLES else 'NULL'}", [list(ids)])
        marks.record_losses(self.con, table, (segment for (segment,) in found.fetchall()))

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

    def loaded_run(self, run_id: str) -> LoadCounts | None:
        """The counts of a run that already loaded successfully; None if it has not (or failed)."""
        fields = [name for name in LoadCounts.__dataclass_fields__ if name not in ("stage_counts", "published")]
        found = self.con.execute(
            f"SELECT {', '.join(fields)}, {', '.join(STAGE_COUNTS)} FROM ingest_runs WHERE run_id = ? AND status = 'success'",
            [run_id],
        ).fetchone()
        if found is None:
            return None
        stage_counts = {name: value for name, value in zip(STAGE_COUNTS, found[len(fields):], strict=True) if value is not None}
        return LoadCounts(*found[:len(fields)], stage_counts=stage_counts)

    def record_failed_run(self, manifest: Manifest, error: str) -> bool:
        """A failed run's row, in its own transaction (its stages stay for the retry); False if the run has a row."""
        with self.transaction():
            if new := not self.existing("ingest_runs", "run_id", [manifest.run_id]):
                self.record_run(manifest, "failed", utc_now(), error=error)
        return new

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

    def recent_source_counts(self, source_ids: list[str], runs: int = HISTORY_BATCHES) -> dict[str, list[int]]:
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

    # --- entities across articles: pipelines.storage.load decides, these only read and write --------

    def insert_article_entities(self, entities: Sequence[ArticleEntity]) -> None:
        if entities:
            table = pa.table({column: pa.array([getattr(entity, column) for entity in entities], ARROW_TYPES.get(kind))
                              for column, kind in self._columns("article_entities").items() if column != SEGMENT})
            with self._arrow(table) as view:
                self.con.execute(f"INSERT INTO article_entities BY NAME SELECT * FROM {view}")

    def drop_article_entities(self, article_ids: Sequence[str]) -> list[ArticleEntity]:
        """Delete these articles' own entities (their mentions leave with them) and return them."""
        rows = self._dicts("DELETE FROM article_entities WHERE article_id IN (SELECT unnest(?::VARCHAR[])) RETURNING *",
                           [list(article_ids)])
        marks.record_losses(self.con, "article_entities", (row.pop(SEGMENT) for row in rows))
        return [ArticleEntity(**{**row, "votes": tuple(sorted(row["votes"].items()))}) for row in rows]

    def mentions_without_article_entities(self) -> list[tuple[str, str, str, str]]:
        """(article_id, local_id, text, label) of mentions stored before migration 008, until a load regroups them."""
        return self.con.execute("SELECT article_id, local_id, mention_text, label FROM entity_mentions"
                                " WHERE NOT EXISTS (SELECT 1 FROM article_entities) ORDER BY ALL").fetchall()

    def name_forms(self, *, keys: Iterable[str] = (), words: Iterable[str] = (),
                   full_words: Iterable[str] = ()) -> list[NameForm]:
        """Stored names with one of `keys`, one-word names with one of `words`, full names with one of `full_words`."""
        return [NameForm(*row) for row in self.con.execute(
            "SELECT min(name), name_key, word, first_word, last_word FROM article_entities"
            " WHERE name_key IN (SELECT unnest($1::VARCHAR[])) OR word IN (SELECT unnest($2::VARCHAR[]))"
            " OR first_word IN (SELECT unnest($3::VARCHAR[])) OR last_word IN (SELECT unnest($3::VARCHAR[]))"
            " GROUP BY ALL ORDER BY ALL", [sorted(keys), sorted(words), sorted(full_words)],
        ).fetchall()]

    def vote_totals(self, keys: Iterable[str]) -> tuple[list[tuple[str, str, float]], list[tuple[str, int]]]:
        """Over all article entities: (name_key, label, votes) of `keys`, (surname_key, mentions) lent to them."""
        wanted = [sorted(set(keys))]
        own = self.con.execute(
            "SELECT name_key, label, sum(weight) FROM (SELECT name_key, unnest(map_keys(votes)) AS label,"
            " unnest(map_values(votes)) AS weight FROM article_entities WHERE name_key IN (SELECT unnest(?::VARCHAR[])))"
            " GROUP BY ALL", wanted).fetchall()
        lent = self.con.execute("SELECT surname_key, sum(mentions) FROM article_entities"
                                " WHERE surname_key IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL", wanted).fetchall()
        return own, lent

    def reassign_entities(self, assigned: Mapping[tuple[str, str | None], tuple[str, str]]) -> set[str]:
        """Set each (name_key, word)'s (entity_id, type), re-point mentions and speakers; the ids they had or have."""
        units = pa.table({
            "name_key": [key for key, _ in assigned], "word": pa.array([word for _, word in assigned], pa.string()),
            "entity_id": [entity_id for entity_id, _ in assigned.values()], "type": [t for _, t in assigned.values()],
        })
        unit = "a.name_key = u.name_key AND a.word IS NOT DISTINCT FROM u.word"
        with self._arrow(units) as view:
            had = self.con.execute(f"SELECT DISTINCT a.entity_id FROM article_entities a JOIN {view} u ON {unit}")
            before = {entity_id for (entity_id,) in had.fetchall()}
            self.con.execute(f"UPDATE article_entities AS a SET entity_id = u.entity_id, type = u.type, {SEGMENT} = {marks.left('a')} FROM {view} u"
                             f" WHERE {unit} AND (a.entity_id <> u.entity_id OR a.type <> u.type)")
            moved = f"FROM article_entities a WHERE a.name_key IN (SELECT name_key FROM {view})"
            self.con.execute(f"UPDATE entity_mentions m SET entity_id = a.entity_id, {SEGMENT} = {marks.left('m')} {moved} AND m.article_id ="
                             " a.article_id AND m.local_id = a.local_id AND m.entity_id <> a.entity_id")
            self.con.execute(f"UPDATE quotes q SET speaker_entity_id = a.entity_id, {SEGMENT} = {marks.left('q')} {moved} AND q.article_id ="
                             " a.article_id AND q.speaker_local_id = a.local_id AND q.speaker_entity_id <> a.entity_id")
        return before | {entity_id for entity_id, _ in assigned.values()}

    def entity_totals(self, entity_ids: Iterable[str]) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
        """Per entity: mentions per type its article entities were given, and mentions per surface form."""
        wanted, where = [sorted(set(entity_ids))], "WHERE entity_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL"
        types: dict[str, Counter[str]] = defaultdict(Counter)
        forms: dict[str, Counter[str]] = defaultdict(Counter)
        for entity_id, type_, mentions in self.con.execute(
                f"SELECT entity_id, type, sum(mentions) FROM article_entities {where}", wanted).fetchall():
            types[entity_id][type_] = mentions
        for entity_id, text, mentions in self.con.execute(
                f"SELECT entity_id, mention_text, count(*) FROM entity_mentions {where}", wanted).fetchall():
            forms[entity_id][text] = mentions
        return types, forms

    def replace_entities(self, entity_ids: Iterable[str], entities: Sequence[Entity], aliases: Sequence[EntityAlias],
                         now: datetime) -> None:
        """Rewrite these entities as resolved: a changed name or type is stamped `now`, one without mentions goes."""
        wanted = sorted(set(entity_ids))
        stored = {row[0]: row[1:] for row in self.con.execute(
            "SELECT entity_id, name, type FROM entities WHERE entity_id IN (SELECT unnest(?::VARCHAR[]))", [wanted]
        ).fetchall()}
        self.delete("entities", "entity_id", sorted(set(wanted) - {entity.entity_id for entity in entities}))
        changed = [entity for entity in entities if stored.get(entity.entity_id) != (entity.name, entity.type)]
        self.insert("entities", [{"entity_id": entity.entity_id, "name": entity.name, "type": entity.type,
                                  "updated_at": now} for entity in changed], on_conflict="REPLACE")
        self.delete("entity_aliases", "entity_id", wanted)
        self.insert("entity_aliases", [{"entity_id": alias.entity_id, "alias": alias.alias} for alias in aliases])

    def feed_states(self) -> list[FeedState]:
        return [FeedState(**row) for row in self._dicts("SELECT * FROM feed_state ORDER BY name")]

    def robots_records(self) -> list[RobotsRecord]:
        """Every site's last robots.txt fetch: a fetcher starts from these instead of fetching each again."""
        return [RobotsRecord(**row) for row in self._dicts("SELECT * FROM robots_cache ORDER BY origin")]

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
