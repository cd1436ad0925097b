"""The only place that holds a DuckDB connection: migrations, the transactional load, and counts.

Every load runs in one transaction and is idempotent: rows are keyed by ids derived from content,
an input already loaded is recognised by its raw_id, and a re-run adds nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.dedup import (
    Candidate,
    DedupConfig,
    DedupEntry,
    EntryIndex,
    Story,
    as_utc,
    band_keys,
    find_matches,
    make_entry,
    resolve_story,
)
from pipelines.ids import sha256_hex, stable_id
from pipelines.nlp.entities import KnownEntities
from pipelines.records import Entity, EntityAlias, Status
from pipelines.storage.staging import Manifest, Validation
from pipelines.tables import ARTICLE_CHILDREN, DATA_TABLES, check_table

MIGRATION_FILE = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)\.sql$")
# Column types Arrow must not guess: 64-bit hashes above 2**63 overflow its default int64.
ARROW_TYPES = {"UBIGINT": pa.uint64(), "UBIGINT[]": pa.list_(pa.uint64())}
# Counts a stage reports itself (in its manifest) and ingest_runs keeps, summed over a run's stages.
STAGE_COUNTS = ("feeds_polled", "feeds_failed", "items_seen", "items_already_seen", "pages_fetched")


class MigrationError(RuntimeError):
    """A migration file changed after it was applied, or a file name breaks the NNN_name.sql rule."""


@dataclass(frozen=True, slots=True)
class LoadCounts:
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
                    [migration.version, migration.name, migration.checksum, _now()],
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

    # --- loading ---------------------------------------------------------------------------

    def load_batch(
        self,
        manifest: Manifest,
        rows: dict[str, list[dict[str, Any]]],
        stage_counts: dict[str, int] | None = None,
        validation: Validation | None = None,
    ) -> LoadCounts:
        """Load one run's staged rows in a single transaction; inputs already loaded are counted, not re-inserted."""
        run_id = manifest.run_id
        now = _now()
        raw_rows = rows["raw_documents"]
        with self.transaction():
            known = self._existing("raw_documents", "raw_id", [row["raw_id"] for row in raw_rows])
            fresh_raw = [row for row in _unique(raw_rows, "raw_id") if row["raw_id"] not in known]
            fresh_ids = {row["raw_id"] for row in fresh_raw}
            self._insert_sources(rows["sources"], now)
            self._insert("raw_documents", [{**row, "run_id": run_id} for row in fresh_raw])
            new, updated, same, written = self._upsert_articles(
                [row for row in rows["articles"] if row["raw_id"] in fresh_ids], run_id, now
            )
            self._replace_annotations(rows, written, now)
            quarantined = self._insert_quarantine(
                [row for row in rows["quarantine"] if row["raw_id"] in fresh_ids], run_id, now
            )
            self._insert("fetch_events", _unique(rows["fetch_events"], "event_id"), on_conflict="NOTHING")
            self._insert("feed_state", _unique(rows["feed_state"], "source_id"), on_conflict="REPLACE")
            self._insert("feed_items", _unique_by(rows["feed_items"], ("source_id", "item_key")), on_conflict="NOTHING")
            counts = LoadCounts(
                run_id=run_id,
                inputs=len({row["raw_id"] for row in raw_rows}),
                unchanged=len(known),
                articles_new=new,
                articles_updated=updated,
                articles_same=same,
                skipped=sum(row["status"] == Status.SKIPPED for row in fresh_raw),
                quarantined=quarantined,
                stage_counts=dict(stage_counts or {}),
            )
            self._record_run(manifest, counts, "success", None, now, validation)
            self._insert("run_source_counts", [
                {"run_id": run_id, "source_id": source, "articles": count, "loaded_at": now}
                for source, count in (validation.articles_per_source.items() if validation else [])
            ])
        return counts

    def record_failed_run(self, manifest: Manifest, error: str) -> None:
        """Leave a trace of a failed load in its own transaction; the stage stays on disk for the retry."""
        with self.transaction():
            self._record_run(manifest, None, "failed", error, _now())

    def _record_run(
        self, manifest: Manifest, counts: LoadCounts | None, status: str, error: str | None, now: datetime,
        validation: Validation | None = None,
    ) -> None:
        values = counts.as_dict() if counts else {}
        extra = counts.stage_counts if counts else {}
        quality = {
            "validation_success": validation.success, "validated_rows": validation.validated,
            "rejected_rows": len(validation.rejected), "quality_docs": validation.docs_path,
            "quality_pages": json.dumps(validation.pages), "validation_seconds": validation.seconds,
            "validation_cold_start": validation.cold_start,
        } if validation else {}
        self._insert("ingest_runs", [{
            **values, **{name: extra.get(name) for name in STAGE_COUNTS}, **quality,
            "run_id": manifest.run_id, "started_at": manifest.started_at, "finished_at": now, "status": status,
            "trigger": manifest.trigger, "error": error,
        }], on_conflict="REPLACE")

    def _insert_sources(self, rows: list[dict[str, Any]], now: datetime) -> None:
        self._insert("sources", [{**row, "created_at": now} for row in _unique(rows, "source_id")], on_conflict="NOTHING")

    def _insert_quarantine(self, rows: list[dict[str, Any]], run_id: str, now: datetime) -> int:
        keyed = [
            {**row, "quarantine_id": stable_id(row["raw_id"], row["stage"], row["detail"], row["reason"]),
             "run_id": run_id, "created_at": now}
            for row in rows
        ]
        fresh = _unique(keyed, "quarantine_id")
        known = self._existing("quarantine", "quarantine_id", [row["quarantine_id"] for row in fresh])
        self._insert("quarantine", [row for row in fresh if row["quarantine_id"] not in known])
        return len(fresh) - len(known)

    def _upsert_articles(
        self, rows: list[dict[str, Any]], run_id: str, now: datetime
    ) -> tuple[int, int, int, set[str]]:
        """New article, new version of a known one, or the same content again; then dedup into stories.

        Every body version lands in `article_versions`; `articles` keeps one row per story (the
        canonical article), and a copy becomes an `article_duplicates` row. Returns the counts and
        the article ids whose `articles` row this load wrote.
        """
        current = {
            article_id: (version, content_hash, first_seen)
            for article_id, version, content_hash, first_seen in self.con.execute(
                "SELECT article_id, max(version), arg_max(content_hash, version), min(loaded_at)"
                " FROM article_versions WHERE article_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY article_id",
                [sorted({row["article_id"] for row in rows})],
            ).fetchall()
        }
        latest: dict[str, dict[str, Any]] = {}
        versions: list[dict[str, Any]] = []
        new = updated = same = 0
        for row in sorted(rows, key=lambda r: (r["fetched_at"], r["uri"], r["raw_id"])):
            article_id = row["article_id"]
            version, content_hash, first_seen = current.get(article_id, (0, None, now))
            if content_hash == row["content_hash"]:
                same += 1
                continue
            if version == 0:
                new += 1
            else:
                updated += 1
            version += 1
            current[article_id] = (version, row["content_hash"], first_seen)
            latest[article_id] = {
                **row, "version": version, "first_seen_at": first_seen, "updated_at": now, "run_id": run_id,
            }
            versions.append({
                "article_id": article_id, "version": version, "raw_id": row["raw_id"],
                "content_hash": row["content_hash"], "title": row["title"], "body_text": row["body_text"],
                "loaded_at": now, "run_id": run_id,
            })
        self._insert("article_versions", versions)
        canonical = self._dedup(list(latest.values()), run_id, now)
        self._insert("articles", [row for article_id, row in latest.items() if article_id in canonical],
                     on_conflict="REPLACE")
        return new, updated, same, {article_id for article_id in latest if article_id in canonical}

    def _dedup(self, rows: list[dict[str, Any]], run_id: str, now: datetime) -> set[str]:
        """Put each new body version into its story (pipelines.dedup); return the incoming canonical ids.

        Articles that stop being canonical (an earlier copy arrived, or two stories merged) leave
        `articles` together with their mentions and quotes; their text stays in article_versions.
        """
        cfg = DedupConfig()
        self._check_dedup_config(cfg)
        entries = {row["article_id"]: make_entry(row["article_id"], row["body_text"], _seen_at(row), cfg) for row in rows}
        by_id = {row["article_id"]: row for row in rows}
        history = self._dedup_candidates(list(entries.values()), cfg)
        index = EntryIndex(cfg)
        stories_touched: dict[str, Story] = {}
        members_of: dict[str, list[DedupEntry]] = {}  # every entry, stored or new, of the stories this batch touched
        for article_id in sorted(entries):
            entry = entries[article_id]
            matches = find_matches(entry, [*index.current(history), *index.candidates(entry)], cfg)
            members = [member for story_id in sorted({match.story_id for match in matches})
                       for member in (members_of.pop(story_id, None) or self._story_entries({story_id}))]
            story = resolve_story([*members, entry])
            for match in matches:
                stories_touched.pop(match.story_id, None)
            stories_touched[story.story_id] = story
            members_of[story.story_id] = [*members, entry]
            index.add(entry, story.story_id)
            for member in members:
                index.story_of[member.article_id] = story.story_id
        self._save_signatures(list(entries.values()), by_id, cfg)
        return self._save_stories(stories_touched, by_id, run_id, now)

    def _check_dedup_config(self, cfg: DedupConfig) -> None:
        stored = self.con.execute("SELECT index_key FROM dedup_state").fetchone()
        if stored is None:
            self.con.execute("INSERT INTO dedup_state VALUES (?)", [cfg.index_key])
        elif stored[0] != cfg.index_key:
            raise RuntimeError(
                f"stored dedup signatures were made with {stored[0]}, this code uses {cfg.index_key}; "
                "rebuild them before loading"
            )

    def _dedup_candidates(self, entries: list[DedupEntry], cfg: DedupConfig) -> list[Candidate]:
        """Stored entries sharing an article id, a fingerprint or an LSH band with the batch: one join, no scan of pairs."""
        # An Arrow uint64 column, read by DuckDB's replacement scan: Python ints above 2**63 would not bind exactly.
        batch_bands = pa.table({"band_hash": pa.array(
            sorted({band for entry in entries for _, band in band_keys(entry.signature, cfg)}), type=pa.uint64())})
        found = self.con.execute(
            "SELECT s.article_id, s.fingerprint, s.signature, s.seen_at, st.story_id"
            " FROM article_signatures s JOIN article_stories st USING (article_id)"
            " WHERE s.article_id IN (SELECT unnest(?::VARCHAR[]))"
            " OR s.fingerprint IN (SELECT unnest(?::VARCHAR[]))"
            " OR s.article_id IN (SELECT b.article_id FROM dedup_bands b JOIN batch_bands USING (band_hash))",
            [[e.article_id for e in entries], [e.fingerprint for e in entries if e.fingerprint]],
        ).fetchall()
        return [Candidate(_entry(row), row[4]) for row in found]

    def _story_entries(self, story_ids: set[str]) -> list[DedupEntry]:
        if not story_ids:
            return []
        found = self.con.execute(
            "SELECT s.article_id, s.fingerprint, s.signature, s.seen_at FROM article_signatures s"
            " JOIN article_stories st USING (article_id) WHERE st.story_id IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(story_ids)],
        ).fetchall()
        return [_entry(row) for row in found]

    def _save_signatures(self, entries: list[DedupEntry], rows: dict[str, dict[str, Any]], cfg: DedupConfig) -> None:
        self._insert("article_signatures", [
            {"article_id": e.article_id, "raw_id": rows[e.article_id]["raw_id"], "fingerprint": e.fingerprint,
             "signature": list(e.signature) or None, "seen_at": e.seen_at,
             "source_id": rows[e.article_id]["source_id"], "url": rows[e.article_id]["url"]}
            for e in entries
        ], on_conflict="NOTHING")
        self._insert("dedup_bands", [
            {"band_hash": band, "article_id": e.article_id} for e in entries for _, band in band_keys(e.signature, cfg)
        ])

    def _save_stories(self, stories: dict[str, Story], rows: dict[str, dict[str, Any]], run_id: str,
                      now: datetime) -> set[str]:
        """Re-point every member of the touched stories, rewrite their duplicate rows, demote former canonicals."""
        members = {link.article_id: story for story in stories.values() for link in story.links}
        canonical = set(stories)
        everyone = sorted(canonical | set(members))
        if not everyone:
            return set()
        self._insert("article_stories", [{"article_id": a, "story_id": members[a].story_id if a in members else a}
                                         for a in everyone], on_conflict="REPLACE")
        self.con.execute("DELETE FROM article_duplicates WHERE duplicate_article_id IN (SELECT unnest(?::VARCHAR[]))",
                         [everyone])
        provenance = {article_id: (raw_id, url, source_id) for article_id, raw_id, url, source_id in self.con.execute(
            "SELECT article_id, arg_max(raw_id, seen_at), arg_max(url, seen_at), arg_max(source_id, seen_at)"
            " FROM article_signatures WHERE article_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY article_id",
            [sorted(members)]).fetchall()}
        self._insert("article_duplicates", [
            {"article_id": link.story_id, "duplicate_article_id": link.article_id,
             "duplicate_raw_id": provenance[link.article_id][0], "url": provenance[link.article_id][1],
             "source_id": provenance[link.article_id][2], "method": link.method, "similarity": link.similarity,
             "detected_at": now, "run_id": run_id}
            for story in stories.values() for link in story.links
        ])
        demoted = sorted(members)
        for table in ("articles", *ARTICLE_CHILDREN):
            self.con.execute(f"DELETE FROM {table} WHERE article_id IN (SELECT unnest(?::VARCHAR[]))", [demoted])
        return {article_id for article_id in canonical if article_id in rows}

    def _replace_annotations(self, rows: dict[str, list[dict[str, Any]]], written: set[str], now: datetime) -> None:
        """Entities, mentions and quotes of the articles this load wrote replace what their earlier versions had."""
        ids = sorted(written)
        for table in ARTICLE_CHILDREN:
            self.con.execute(f"DELETE FROM {table} WHERE article_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
        mentions = [row for row in rows["entity_mentions"] if row["article_id"] in written]
        quotes = [row for row in rows["quotes"] if row["article_id"] in written]
        used = {row["entity_id"] for row in mentions} | {row["speaker_entity_id"] for row in quotes}
        entities = [row for row in rows["entities"] if row["entity_id"] in used]  # one per id (merge_rows)
        self._insert("entities", [{**row, "updated_at": now} for row in entities], on_conflict="REPLACE")
        aliases = [row for row in rows["entity_aliases"] if row["entity_id"] in used]
        self._insert("entity_aliases", aliases, on_conflict="NOTHING")
        self._insert("entity_mentions", _unique_by(mentions, ("article_id", "start_char", "end_char")))
        self._insert("quotes", _unique(quotes, "quote_id"))

    def _existing(self, table: str, key: str, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        check_table(table)
        found = self.con.execute(
            f"SELECT {key} FROM {table} WHERE {key} IN (SELECT unnest(?::VARCHAR[]))", [sorted(set(ids))]
        ).fetchall()
        return {value for (value,) in found}

    def _insert(self, table: str, rows: list[dict[str, Any]], *, on_conflict: str | None = None) -> None:
        """Insert dict rows by column name through Arrow; the table's DDL decides types, never the frame."""
        if not rows:
            return
        check_table(table)
        columns = self._columns(table)
        staged_rows = pa.table({
            column: pa.array([row.get(column) for row in rows], type=ARROW_TYPES.get(data_type))
            for column, data_type in columns.items()
        })
        verb = {None: "INSERT", "NOTHING": "INSERT OR IGNORE", "REPLACE": "INSERT OR REPLACE"}[on_conflict]
        # DuckDB's replacement scan reads the local Arrow table `staged_rows` by name.
        self.con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM staged_rows")

    def _columns(self, table: str) -> dict[str, str]:
        return dict(self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall())

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

    def feed_states(self) -> list[dict[str, Any]]:
        return self._dicts("SELECT * FROM feed_state ORDER BY name")

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

    def table_counts(self) -> dict[str, int]:
        counts = {}
        for table in DATA_TABLES:
            row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[table] = int(row[0]) if row else 0
        return counts


def _seen_at(row: dict[str, Any]) -> datetime:
    """When the input says the story appeared: its publication time, else when it was fetched."""
    return row["published_at"] or row["fetched_at"]


def _entry(row: tuple[Any, ...]) -> DedupEntry:
    article_id, fingerprint, signature, seen_at = row[:4]
    return DedupEntry(article_id, fingerprint, tuple(signature or ()), as_utc(seen_at))


def _unique(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """First row per key: ON CONFLICT would otherwise keep an arbitrary one of two duplicates in a batch."""
    return _unique_by(rows, (key,))


def _unique_by(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(tuple(row[key] for key in keys), row)
    return list(seen.values())


def _now() -> datetime:
    return datetime.now(UTC)
