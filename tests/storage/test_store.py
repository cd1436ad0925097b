"""The DuckDB store: versioned migrations, and loads that are all-or-nothing and keep their stage on failure."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from table_snapshot import first_row, scalar

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.pipeline import load_stages, new_run_id, stage_folder, validate_stages
from pipelines.storage.store import MigrationError, Store


def test_migrations_apply_once_and_record_the_version(tmp_path: Path) -> None:
    db = tmp_path / "news.duckdb"
    with Store.open(db, PROJECT_ROOT / "schemas") as store:
        version = store.schema_version()
        assert version >= 1
        assert store.migrate(PROJECT_ROOT / "schemas") == []  # nothing pending the second time
    con = duckdb.connect(str(db), read_only=True)
    assert scalar(con.execute("SELECT max(version) FROM schema_migrations")) == version
    con.close()


def test_an_applied_migration_cannot_be_edited(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(PROJECT_ROOT / "schemas", schemas)
    db = tmp_path / "news.duckdb"
    with Store.open(db, schemas):
        pass
    first = sorted((schemas / "migrations").glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="edited after it was applied"), Store.open(db, schemas):
        pass


def test_views_follow_their_files(tmp_path: Path) -> None:
    """Views are replaced on every writer open: an edit takes effect, a deleted file drops its view."""
    schemas = tmp_path / "schemas"
    shutil.copytree(PROJECT_ROOT / "schemas", schemas)
    views = schemas / "views"
    shipped = {path.stem for path in views.glob("*.sql")}
    (views / "run_count.sql").write_text(
        "CREATE OR REPLACE VIEW run_count AS SELECT count(*) AS runs FROM ingest_runs;"
    )
    db = tmp_path / "news.duckdb"
    with Store.open(db, schemas) as store:
        assert set(store._views()) == shipped | {"run_count"}
    (views / "run_count.sql").write_text("CREATE OR REPLACE VIEW run_count AS SELECT 7 AS runs;")
    with Store.open(db, schemas) as store:
        assert store.con.execute("SELECT runs FROM run_count").fetchone() == (7,)
    (views / "run_count.sql").unlink()
    with Store.open(db, schemas) as store:
        assert set(store._views()) == shipped
    (views / "misnamed.sql").write_text("CREATE OR REPLACE VIEW other_name AS SELECT 1 AS one;")
    with pytest.raises(MigrationError, match="misnamed"), Store.open(db, schemas):
        pass


@pytest.mark.slow
def test_a_failed_load_writes_nothing_and_keeps_the_stage(tmp_path: Path, seeds_dir: Path) -> None:
    settings = Settings.from_env(seeds_dir=seeds_dir, db_path=tmp_path / "news.duckdb", staging_dir=tmp_path / "stage")
    batch = stage_folder(settings, new_run_id("test"), "test")
    articles = batch.path / "articles.parquet"
    table = pq.read_table(articles)
    item_key = table.column("item_key").to_pylist()
    item_key[-1] = None  # passes validation but violates NOT NULL on the last article, after raw_documents went in
    pq.write_table(table.set_column(table.schema.get_field_index("item_key"), "item_key", [item_key]), articles)
    validate_stages(settings, [batch.path])
    with pytest.raises(duckdb.ConstraintException):
        load_stages(settings, [batch.path])
    assert batch.path.is_dir()
    con = duckdb.connect(str(settings.db_path), read_only=True)
    assert scalar(con.execute("SELECT count(*) FROM raw_documents")) == 0
    assert scalar(con.execute("SELECT count(*) FROM articles")) == 0
    status, error = first_row(con.execute("SELECT status, error FROM ingest_runs"))
    assert status == "failed" and "NOT NULL" in error
    con.close()

    fixed = stage_folder(settings, new_run_id("test"), "test")
    validate_stages(settings, [fixed.path])
    counts = load_stages(settings, [fixed.path])
    assert counts.articles_new == 5 and not fixed.path.exists()
