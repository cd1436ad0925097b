"""Publishing as segments: what is published is what the writer holds, and a publish writes only what changed.

Real parts: the seeds ingested by the real pipeline into real DuckDB files, then changes made through the
store's own writes (new rows, replaced rows, updated rows, deleted rows), each followed by a publish;
the published catalog is read by DuckDB 2 and by the DuckDB 1.5 CLI, from other folders, moved, and held
open by other processes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import HeldReader
from table_snapshot import published_equals_writer

from pipelines.config import Settings
from pipelines.pipeline import ingest_folder
from pipelines.storage import entity_queries, segments
from pipelines.storage.catalog import CATALOGS, MANIFEST, published_folder
from pipelines.storage.publish import open_writer, publish
from pipelines.tables import SEGMENT


def files(settings: Settings) -> set[str]:
    folder = published_folder(settings.db_path)
    return {path.relative_to(folder).as_posix() for path in folder.glob("*/*.parquet")}


@pytest.fixture()
def seeded(tmp_path: Path, seeds_dir: Path) -> Settings:
    settings = Settings.from_env(
        seeds_dir=seeds_dir, db_path=tmp_path / "data" / "news.duckdb", staging_dir=tmp_path / "staging"
    )
    ingest_folder(settings)
    return settings


@pytest.mark.slow
def test_a_publish_writes_the_rows_a_load_changed_and_rewrites_only_the_segments_they_left(seeded: Settings) -> None:
    published_equals_writer(seeded)
    first = files(seeded)
    now = datetime.now(UTC)
    with open_writer(seeded) as store:
        (article,) = store.con.execute(
            "SELECT * EXCLUDE (_segment) FROM articles ORDER BY article_id LIMIT 1"
        ).fetchall()
        columns = [
            column
            for (column,) in store.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'articles' AND column_name <> ?"
                " ORDER BY ordinal_position",
                [SEGMENT],
            ).fetchall()
        ]
        with store.transaction():
            # a replaced row, a new row, deleted rows, and an updated row
            store.insert(
                "articles",
                [{**dict(zip(columns, article, strict=True)), "title": "A corrected headline"}],
                on_conflict="REPLACE",
            )
            store.insert(
                "fetch_events",
                [
                    {
                        "event_id": "e1",
                        "run_id": "r1",
                        "source_id": "s1",
                        "url": "https://a.example/",
                        "kind": "feed",
                        "at": now,
                        "outcome": "ok",
                    }
                ],
            )
            ((quote,),) = store.con.execute("SELECT quote_id FROM quotes ORDER BY quote_id LIMIT 1").fetchall()
            store.delete("quotes", "quote_id", [quote])
            (entity,) = store.con.execute("SELECT name_key, word FROM article_entities ORDER BY ALL LIMIT 1").fetchall()
            entity_queries.reassign_entities(store, {(entity[0], entity[1]): ("moved-entity", "ORG")})
        done = publish(store, seeded)
    published_equals_writer(seeded)
    second = files(seeded)
    changed = {file.split("/")[0] for file in second - first}
    # the tables the change touched got new files; every other table kept its file, untouched
    assert changed == {"articles", "fetch_events", "quotes", "article_entities", "entity_mentions"}
    assert {file for file in first if file.split("/")[0] not in changed} <= second
    assert done.bytes_written < sum((published_folder(seeded.db_path) / file).stat().st_size for file in second)

    with open_writer(seeded) as store:  # nothing changed since: nothing is written (catalog 1's old files go)
        assert publish(store, seeded).bytes_written == 0
    assert files(seeded) == {file for file in second if file not in first or file.split("/")[0] not in changed}


@pytest.mark.slow
def test_small_segments_are_merged_so_a_table_stays_a_few_files(seeded: Settings) -> None:
    with open_writer(seeded) as store:
        for run in range(segments.MERGE_SMALL_AT + 2):
            store.insert(
                "fetch_events",
                [
                    {
                        "event_id": f"e{run}",
                        "run_id": f"r{run}",
                        "source_id": "s",
                        "kind": "feed",
                        "url": "https://a.example/",
                        "at": datetime.now(UTC),
                        "outcome": "ok",
                    }
                ],
            )
            publish(store, seeded)
        listed = segments.published(store)["fetch_events"]
    assert (
        len(listed) < segments.MERGE_SMALL_AT
        and sum(segment.row_count for segment in listed) == segments.MERGE_SMALL_AT + 2
    )
    published_equals_writer(seeded)


@pytest.mark.slow
def test_a_held_catalog_keeps_its_files_and_they_go_once_it_is_let_go(seeded: Settings) -> None:
    with HeldReader(seeded.db_path) as reader:
        for run in range(4):  # each rewrites articles' one segment: the held catalog's file is superseded
            with open_writer(seeded) as store:
                store.con.execute(f"UPDATE articles SET title = 'run {run}', {SEGMENT} = -{SEGMENT} - 1")
                publish(store, seeded)
        assert reader.articles_at_end() == 5  # queried again after four publishes: its files are all there
    catalogs = sorted((published_folder(seeded.db_path) / CATALOGS).glob("*.duckdb"))
    assert [catalog.stem[-1] for catalog in catalogs] == ["1", "4", "5"]  # the held one stayed, with the newest two
    with open_writer(seeded) as store:
        publish(store, seeded)  # nothing holds the old ones now: they go, and the files only they listed
    assert len(sorted((published_folder(seeded.db_path) / CATALOGS).glob("*.duckdb"))) == 2
    listed = json.loads((published_folder(seeded.db_path) / MANIFEST).read_text())["tables"]
    live = set().union(
        *[
            (published_folder(seeded.db_path) / CATALOGS / catalog.name).with_suffix(".files").read_text().split()
            for catalog in sorted((published_folder(seeded.db_path) / CATALOGS).glob("*.duckdb"))
        ]
    )
    assert files(seeded) == live and set(listed["articles"]) <= live


def test_the_published_folder_opens_anywhere_it_is_moved_in_duckdb_2_and_1_5(
    seeded: Settings, tmp_path: Path, duckdb_1x_cli: Path
) -> None:
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(seeded.db_path.parent, moved, ignore=shutil.ignore_patterns(".writer"))
    shutil.rmtree(seeded.db_path.parent)  # the original is gone: nothing may point back at it
    con = duckdb.connect(str(moved / "news.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (5,)
    assert con.execute("SELECT count(*) FROM article_overview").fetchone() == (5,)
    con.close()
    cli = subprocess.run(
        [
            str(duckdb_1x_cli),
            "-readonly",
            "-csv",
            "copy/news.duckdb",
            "-c",
            "SELECT count(*) FROM articles; SELECT count(*) FROM quote_overview",
        ],
        cwd=moved.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.split() == ["count_star()", "5", "count_star()", "26"]
    manifest = json.loads((moved / "news.parquet" / MANIFEST).read_text())
    articles = pq.read_table([moved / "news.parquet" / file for file in manifest["tables"]["articles"]])
    assert articles.num_rows == 5 and "body_text" in articles.column_names  # any Parquet reader, by the manifest
