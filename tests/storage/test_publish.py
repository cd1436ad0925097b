"""Publishing: the file analysts are given is a snapshot no load ever blocks or breaks, in a format DuckDB 1.x reads.

Real processes throughout: a reader holding a read-only session on the published path across a
`newsflow ingest`, a writer killed with SIGKILL while it publishes, the DuckDB CLI from PyPI.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import HeldReader
from table_snapshot import published_equals_writer, scalar, snapshot

from pipelines.config import Settings
from pipelines.pipeline import ingest_folder, load_stages, stage_folder, validate_stages
from pipelines.storage.catalog import published_folder
from pipelines.storage.publish import (
    PUBLISHED_STORAGE_VERSION,
    REPUBLISH_AFTER,
    TEMPORARY_SUFFIX,
)
from pipelines.storage.store import Store
from pipelines.tables import DATA_TABLES, SEGMENT, SEGMENTED_TABLES

LOAD = """
import sys
from pathlib import Path
from pipelines.config import Settings
from pipelines.pipeline import load_stages
load_stages(Settings.from_env(), [Path(sys.argv[1])])
"""

EXTRA_ARTICLE = (
    "A new headline\n\nThe council met again on Friday to discuss the budget, and agreed to publish "
    "the full figures before the vote next month."
)


def _settings(tmp_path: Path, folder: Path) -> Settings:
    return Settings.from_env(seeds_dir=folder, db_path=tmp_path / "news.duckdb", staging_dir=tmp_path / "stage")


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSFLOW_DB": str(settings.db_path),
        "NEWSFLOW_SEEDS_DIR": str(settings.seeds_dir),
        "NEWSFLOW_STAGING_DIR": str(settings.staging_dir),
    }


def _articles(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return scalar(con.execute("SELECT count(*) FROM articles"))
    finally:
        con.close()


@pytest.fixture()
def seeded(tmp_path: Path, seeds_dir: Path) -> Settings:
    folder = tmp_path / "seeds"
    shutil.copytree(seeds_dir, folder)
    settings = _settings(tmp_path, folder)
    ingest_folder(settings)
    return settings


@pytest.mark.slow
def test_a_reader_on_the_published_path_never_blocks_a_cli_ingest(seeded: Settings) -> None:
    with HeldReader(seeded.db_path) as reader:
        assert reader.articles_at_start == 5
        (seeded.seeds_dir / "extra.txt").write_text(EXTRA_ARTICLE)
        ingest = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "ingest", "--json"],
            env=_env(seeded),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert ingest.returncode == 0, ingest.stderr[-2000:]
        assert '"articles_new": 1' in ingest.stdout
        assert _articles(seeded.db_path) == 6  # a new session sees the load at once
        assert reader.articles_at_end() == 5  # the held session goes on, unbroken, on the snapshot it opened


def test_the_published_file_is_not_the_writers_and_holds_the_views(seeded: Settings) -> None:
    assert seeded.writer_db_path.is_file() and seeded.writer_db_path != seeded.db_path
    assert not seeded.writer_db_path.samefile(seeded.db_path)
    con = duckdb.connect(str(seeded.db_path), read_only=True)
    tags = con.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()"
    )
    assert scalar(tags).startswith(PUBLISHED_STORAGE_VERSION)
    views = {name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    con.close()
    files = {path.stem for path in (seeded.schemas_dir / "views").glob("*.sql")}
    assert files and files <= views


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["writing segments", "writing the catalog"])
def test_a_writer_killed_while_publishing_leaves_the_last_snapshot_whole(seeded: Settings, moment: str) -> None:
    # Ballast in a published table makes writing its segments take long enough to be caught in the act.
    con = duckdb.connect(str(seeded.writer_db_path))
    con.execute(
        "INSERT INTO fetch_events BY NAME SELECT 'ballast-' || i AS event_id, 'ballast' AS run_id, 's' AS source_id,"
        " 'https://a.example/' || md5(i::VARCHAR) AS url, 'page' AS kind, now() AS \"at\", 'ok' AS outcome"
        " FROM range(2000000) t(i)"
    )
    con.close()
    (seeded.seeds_dir / "extra.txt").write_text(EXTRA_ARTICLE)
    staged = stage_folder(seeded, "killed-run", "test")
    validate_stages(seeded, [staged.path])
    folder = published_folder(seeded.db_path)
    listed = set(folder.glob("*/*.parquet"))
    catalog = f".{seeded.db_path.name}.*{TEMPORARY_SUFFIX}"

    def caught() -> bool:
        if moment == "writing segments":
            return bool(set(folder.glob("fetch_events/*.parquet")) - listed)
        return bool(list(seeded.db_path.parent.glob(catalog)))

    writer = subprocess.Popen([sys.executable, "-c", LOAD, str(staged.path)], env=_env(seeded))
    deadline = time.monotonic() + 300
    while not caught():
        assert writer.poll() is None, "the writer finished before it could be caught publishing"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=60)

    assert _articles(seeded.db_path) == 5  # the last snapshot, whole: every file it lists is there
    counts = load_stages(seeded, [staged.path])  # the next run completes: the stages stayed for it
    assert counts.run_id == "killed-run" and counts.published
    assert _articles(seeded.db_path) == 6
    published_equals_writer(seeded)  # what the killed publish left half done is done, nothing twice
    assert not list(seeded.db_path.parent.glob(catalog))


def single_file_snapshot(source: Settings, target: Path, storage_version: str | None = None) -> None:
    """The whole database in one file at schema 010, as the releases before segments wrote it (writer and snapshot)."""
    schemas = target.parent / "schemas_010"
    shutil.copytree(source.schemas_dir, schemas, dirs_exist_ok=True)
    for later in (schemas / "migrations").glob("*.sql"):
        if int(later.name[:3]) > 10:
            later.unlink()
    shutil.rmtree(schemas / "views")  # today's views read tables schema 010 did not have; the next open makes them
    (schemas / "views").mkdir()
    with Store.open(target, schemas, storage_version=storage_version) as store:
        store.con.execute(f"ATTACH '{source.writer_db_path}' AS current (READ_ONLY)")
        found = store.con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()")
        made = {name for (name,) in found.fetchall()}
        for table in [table for table in DATA_TABLES if table in made]:
            store.con.execute(
                f"INSERT INTO {table} BY NAME SELECT * EXCLUDE ({SEGMENT}) FROM current.{table}"
                if table in SEGMENTED_TABLES
                else f"INSERT INTO {table} SELECT * FROM current.{table}"
            )
        store.con.execute("INSERT INTO dedup_state SELECT * FROM current.dedup_state")


@pytest.mark.slow
def test_an_older_install_is_adopted_not_lost(tmp_path: Path, seeded: Settings) -> None:
    """Before the writer had a file of its own, the loads wrote NEWSFLOW_DB itself, in DuckDB 2's own format."""
    legacy = _settings(tmp_path / "legacy", seeded.seeds_dir)
    legacy.db_path.parent.mkdir()
    single_file_snapshot(seeded, legacy.db_path)  # DuckDB 2's default format, as the old writer left it
    con = duckdb.connect(str(legacy.db_path), read_only=True)
    assert scalar(
        con.execute("SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'news'")
    ).startswith("v2")
    con.close()
    (seeded.seeds_dir / "extra.txt").write_text(EXTRA_ARTICLE)
    counts = ingest_folder(legacy)
    assert (counts.articles_new, counts.unchanged) == (1, 5)  # the old rows were kept: the seeds are recognised
    assert _articles(legacy.db_path) == 6
    con = duckdb.connect(str(legacy.db_path), read_only=True)
    tag = con.execute("SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()")
    assert scalar(tag).startswith(PUBLISHED_STORAGE_VERSION)
    con.close()


@pytest.mark.slow
def test_a_single_file_install_is_converted_on_its_first_load(tmp_path: Path, seeded: Settings) -> None:
    """The release before segments: a writer and a whole-database snapshot. Its first load publishes everything as
    segments and a catalog; a session held on the old snapshot goes on; nothing is lost."""
    upgraded = _settings(tmp_path / "upgraded", seeded.seeds_dir)
    upgraded.writer_db_path.parent.mkdir(parents=True)
    single_file_snapshot(seeded, upgraded.writer_db_path, PUBLISHED_STORAGE_VERSION)
    single_file_snapshot(seeded, upgraded.db_path, PUBLISHED_STORAGE_VERSION)
    before = snapshot(upgraded.db_path)
    with HeldReader(upgraded.db_path) as reader:
        (seeded.seeds_dir / "extra.txt").write_text(EXTRA_ARTICLE)
        counts = ingest_folder(upgraded)
        assert (counts.articles_new, counts.unchanged, counts.published) == (1, 5, True)
        assert reader.articles_at_end() == 5  # the single-file snapshot it opened, unbroken
    after = snapshot(upgraded.db_path)  # now the catalog over segments
    assert len(after["articles"]) == 6 and all(
        set(before[table]) <= set(after[table])
        for table in before
        if table not in ("feed_state", "robots_cache", "sources")
    )
    assert set(after) >= set(before)  # schema 010's tables, and those later migrations added


@pytest.mark.slow
def test_a_load_that_changed_no_article_is_not_published_until_the_snapshot_is_an_hour_old(seeded: Settings) -> None:
    """Publishing copies the whole database: a run that found nothing new skips it, and so never lags analysts by
    more than REPUBLISH_AFTER."""
    inode = seeded.db_path.stat().st_ino
    again = ingest_folder(seeded)  # every file loaded before
    assert (again.unchanged, again.articles_new, again.published) == (5, 0, False)
    assert seeded.db_path.stat().st_ino == inode
    assert seeded.feed_state_path.is_file()  # what the next plan reads (no feed here: an empty table's file)

    aged = time.time() - REPUBLISH_AFTER.total_seconds() - 60
    os.utime(seeded.db_path, (aged, aged))
    stale = ingest_folder(seeded)
    assert stale.published and seeded.db_path.stat().st_ino != inode
    con = duckdb.connect(str(seeded.db_path), read_only=True)
    runs = scalar(con.execute("SELECT count(*) FROM ingest_runs"))
    con.close()
    assert runs == 3  # the unpublished run's row arrived with the next publish


@pytest.mark.slow
def test_a_changed_schema_is_published_even_without_new_articles(seeded: Settings, tmp_path: Path) -> None:
    """A migration reaches readers with the next load: polls read state only from a snapshot of the current schema."""
    schemas = tmp_path / "schemas"
    shutil.copytree(seeded.schemas_dir, schemas)
    (schemas / "migrations" / "999_probe.sql").write_text("ALTER TABLE articles ADD COLUMN probe_for_test INTEGER;\n")
    migrated = Settings.from_env(
        seeds_dir=seeded.seeds_dir, db_path=seeded.db_path, staging_dir=seeded.staging_dir, schemas_dir=schemas
    )
    counts = ingest_folder(migrated)
    assert counts.articles_new == 0 and counts.published
    con = duckdb.connect(str(seeded.db_path), read_only=True)
    assert con.execute("SELECT count(probe_for_test), count(*) FROM articles").fetchone() == (
        0,
        5,
    )  # its segments rewritten
    con.close()
