"""The analysts' views (schemas/views/): in the published file, documented, and right on a real database.

One database for the module, built by the pipeline in three loads: the seeds; a reposted copy of one
seed in the same folder (a story one outlet ran twice); then an earlier copy of the seed with the most
Lavrov quotes, a JSON article with its own date from a second folder (a story two outlets ran, whose
canonical becomes that earlier copy). Readers use a time zone far from UTC: dates must not follow it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from table_snapshot import first_row, scalar

from pipelines.config import SCHEMAS_DIR, Settings
from pipelines.pipeline import ingest_folder
from pipelines.storage.catalog import published_folder

VIEW_FILES = sorted((SCHEMAS_DIR / "views").glob("*.sql"))
REQUIRED_VIEWS = {"article_overview", "quote_overview", "entity_daily_mentions", "story_coverage"}
VIEW_STATEMENT = re.compile(r"^CREATE OR REPLACE VIEW (\w+) AS$", re.MULTILINE)
READER_TIME_ZONE = "America/Los_Angeles"
SPEAKER_SPELLINGS = ("Sergey Lavrov", "Sergei Lavrov")  # one entity, whichever name is canonical
WIRE_URL = "https://wire.example.com/2016/12/17/talks"
WIRE_TITLE = "Talks go on, the wire says"
WIRE_PUBLISHED = "2016-12-17T23:30:00-05:00"  # 2016-12-18 in UTC, 2016-12-17 in the readers' zone


@dataclass(frozen=True, slots=True)
class ViewFile:
    """One view file as its reader sees it: the view it creates, its documented columns, its example."""

    views: list[str]
    columns: list[str]
    example: str


@dataclass(frozen=True, slots=True)
class Built:
    settings: Settings  # every load done: settings.db_path is the published file
    seeds_only: Path  # the published file as it was after loading the seeds alone
    seeds_source: str
    wire_source: str
    twin_uris: tuple[str, str]  # the seed and its repost, in the seeds folder
    wire_seed_uri: str  # the seed the second source sent an earlier copy of


def read_view_file(path: Path) -> ViewFile:
    """The `--` block before the statement: `-- Columns:` lines (`--   name  meaning`), then `-- Example…` lines."""
    text = path.read_text(encoding="utf-8")
    header = [line.removeprefix("--") for line in text.splitlines() if line.startswith("--")]
    start = header.index(" Columns:") + 1
    end = header.index("", start)
    example_at = next(i for i, line in enumerate(header) if line.startswith(" Example"))
    return ViewFile(
        views=VIEW_STATEMENT.findall(text),
        columns=[line.split()[0] for line in header[start:end]],
        example="\n".join(line.strip() for line in header[example_at + 1 :]),
    )


def _settings(root: Path, folder: str) -> Settings:
    return Settings.from_env(seeds_dir=root / folder, db_path=root / "news.duckdb", staging_dir=root / "stage")


@contextmanager
def _reader(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only session on a database file, in a time zone far from UTC."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute(f"SET TimeZone = '{READER_TIME_ZONE}'")
        yield con
    finally:
        con.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _utc_date(published_at: datetime | None, fetched_at: datetime) -> date:
    return (published_at or fetched_at).astimezone(UTC).date()


def _article_dates(con: duckdb.DuckDBPyConnection) -> dict[str, date]:
    return {
        row["article_id"]: _utc_date(row["published_at"], row["fetched_at"])
        for row in _rows(con, "SELECT article_id, published_at, fetched_at FROM articles")
    }


def _speaker(con: duckdb.DuckDBPyConnection) -> str:
    """The one entity every spelling of the speaker resolved to."""
    (entity_id,) = con.execute(
        "SELECT DISTINCT entity_id FROM entity_aliases WHERE alias IN (SELECT unnest(?::VARCHAR[]))",
        [list(SPEAKER_SPELLINGS)],
    ).fetchall()
    return entity_id[0]


def _fetched_at(con: duckdb.DuckDBPyConnection, uri: str) -> datetime:
    (fetched,) = first_row(
        con.execute("SELECT fetched_at FROM raw_documents WHERE uri = ? AND status = 'loaded'", [uri])
    )
    return fetched


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Built:
    root = tmp_path_factory.mktemp("views")
    shutil.copytree(seeds_dir, root / "seeds")
    seeds = _settings(root, "seeds")
    ingest_folder(seeds)
    # The published folder as it was after the seeds alone (a catalog and its segments, moved as a whole).
    shutil.copytree(published_folder(seeds.db_path), root / "seeds_only" / published_folder(seeds.db_path).name)
    shutil.copyfile(seeds.db_path, root / "seeds_only" / seeds.db_path.name)

    with _reader(seeds.db_path) as con:
        wire_seed_uri, body = first_row(
            con.execute(
                "SELECT a.uri, a.body_text FROM quotes q JOIN articles a USING (article_id)"
                " WHERE q.speaker_entity_id = ? GROUP BY ALL ORDER BY count(*) DESC, a.uri LIMIT 1",
                [_speaker(con)],
            )
        )
        twin_uri = scalar(con.execute("SELECT min(uri) FROM articles WHERE uri <> ?", [wire_seed_uri]))
    repost = f"reposted_{Path(twin_uri).name}"
    shutil.copyfile(root / "seeds" / twin_uri, root / "seeds" / repost)
    ingest_folder(seeds)

    (root / "wire").mkdir()
    article = {"url": WIRE_URL, "title": WIRE_TITLE, "published_at": WIRE_PUBLISHED, "body": body}
    (root / "wire" / "earlier.json").write_text(json.dumps(article), encoding="utf-8")
    ingest_folder(_settings(root, "wire"))
    return Built(seeds, root / "seeds_only" / seeds.db_path.name, "seeds", "wire", (twin_uri, repost), wire_seed_uri)


@pytest.fixture()
def con(built: Built) -> Iterator[duckdb.DuckDBPyConnection]:
    with _reader(built.settings.db_path) as connection:
        yield connection


@pytest.mark.parametrize("path", VIEW_FILES, ids=lambda path: path.stem)
@pytest.mark.slow
def test_each_file_creates_its_view_in_the_published_file_with_every_column_documented(
    path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    view_file = read_view_file(path)
    assert view_file.views == [path.stem]  # exactly one view per file, named after it
    columns = [
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [path.stem],
        ).fetchall()
    ]
    assert columns, f"{path.stem} is not in the published file"
    assert view_file.columns == columns


def test_the_required_views_are_all_there(con: duckdb.DuckDBPyConnection) -> None:
    views = {name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert REQUIRED_VIEWS <= {path.stem for path in VIEW_FILES} <= views


@pytest.mark.parametrize("path", VIEW_FILES, ids=lambda path: path.stem)
def test_each_documented_example_answers_on_the_seeds_alone(path: Path, built: Built) -> None:
    with _reader(built.seeds_only) as seeds_con:
        assert seeds_con.execute(read_view_file(path).example).fetchall()


def test_article_overview_has_one_row_per_article_with_its_source_date_and_story(
    con: duckdb.DuckDBPyConnection,
) -> None:
    names = dict(con.execute("SELECT source_id, name FROM sources").fetchall())
    copies: dict[str, list[str]] = {}
    for article_id, source_id in con.execute(
        "SELECT article_id, source_id FROM articles UNION ALL SELECT article_id, source_id FROM article_duplicates"
    ).fetchall():
        copies.setdefault(article_id, []).append(names[source_id])
    dates = _article_dates(con)
    articles = {row["article_id"]: row for row in _rows(con, "SELECT * FROM articles")}

    overview = _rows(con, "SELECT * FROM article_overview")
    assert sorted(row["article_id"] for row in overview) == sorted(articles)
    for row in overview:
        article = articles[row["article_id"]]
        assert row["source_name"] == names[article["source_id"]]
        assert (row["title"], row["url"]) == (article["title"], article["url"])
        assert row["article_date"] == dates[row["article_id"]]
        assert row["story_size"] == len(copies[row["article_id"]])
        assert row["story_outlets"] == sorted(set(copies[row["article_id"]]))
        assert row["story_outlet_count"] == len(set(copies[row["article_id"]]))
    assert sorted(row["story_size"] for row in overview) == [1] * (len(overview) - 2) + [2, 2]


def test_story_coverage_of_a_story_two_outlets_ran(built: Built, con: duckdb.DuckDBPyConnection) -> None:
    """The second source's copy says it appeared earlier, so it became the canonical and the first seen."""
    (story,) = _rows(
        con, "SELECT c.* FROM story_coverage c JOIN articles a ON a.article_id = c.story_id WHERE a.url = ?", [WIRE_URL]
    )
    assert story["title"] == WIRE_TITLE
    assert (story["copies"], story["outlet_count"]) == (2, 2)
    assert story["outlets"] == sorted([built.seeds_source, built.wire_source])
    assert story["first_outlet"] == built.wire_source
    assert story["first_seen_at"] == datetime.fromisoformat(WIRE_PUBLISHED)
    assert story["last_seen_at"] == _fetched_at(con, built.wire_seed_uri)  # a text seed carries no date
    assert story["first_seen_at"] < story["last_seen_at"]


def test_story_coverage_of_a_story_one_outlet_ran_twice(built: Built, con: duckdb.DuckDBPyConnection) -> None:
    original, repost = built.twin_uris
    (story,) = _rows(
        con,
        "SELECT c.* FROM story_coverage c JOIN articles a ON a.article_id = c.story_id WHERE a.uri IN (?, ?)",
        [original, repost],
    )
    assert (story["copies"], story["outlet_count"], story["outlets"]) == (2, 1, [built.seeds_source])
    assert story["first_seen_at"] == _fetched_at(con, original)
    assert story["last_seen_at"] == _fetched_at(con, repost)
    assert story["first_seen_at"] < story["last_seen_at"]


def test_story_coverage_of_every_other_story_is_its_one_copy(con: duckdb.DuckDBPyConnection) -> None:
    single = _rows(con, "SELECT * FROM story_coverage WHERE copies = 1")
    assert len(single) == scalar(con.execute("SELECT count(*) FROM articles")) - 2
    for story in single:
        assert story["first_seen_at"] == story["last_seen_at"]
        assert story["outlet_count"] == 1 and story["outlets"] == [story["first_outlet"]]


def test_quote_overview_gives_each_quote_by_lavrov_with_its_article_title_and_date(
    con: duckdb.DuckDBPyConnection,
) -> None:
    speaker_id = _speaker(con)
    (name,) = first_row(con.execute("SELECT name FROM entities WHERE entity_id = ?", [speaker_id]))
    quotes = {
        row["quote_id"]: row for row in _rows(con, "SELECT * FROM quotes WHERE speaker_entity_id = ?", [speaker_id])
    }
    titles = dict(con.execute("SELECT article_id, title FROM articles").fetchall())
    dates = _article_dates(con)

    rows = _rows(con, "SELECT * FROM quote_overview WHERE speaker_entity_id = ?", [speaker_id])
    assert quotes and sorted(row["quote_id"] for row in rows) == sorted(quotes)
    for row in rows:
        quote = quotes[row["quote_id"]]
        assert row["speaker_name"] == name  # the entity's name, whatever the text wrote
        assert (row["quote_text"], row["article_id"]) == (quote["quote_text"], quote["article_id"])
        assert row["article_title"] == titles[row["article_id"]]
        assert row["article_date"] == dates[row["article_id"]]
    assert {(row["article_title"], row["article_date"]) for row in rows} >= {(WIRE_TITLE, date(2016, 12, 18))}
    assert (
        con.execute("SELECT count(*) FROM quote_overview").fetchone()
        == con.execute("SELECT count(*) FROM quotes").fetchone()
    )


def test_entity_daily_mentions_count_every_mention_on_its_articles_day(con: duckdb.DuckDBPyConnection) -> None:
    dates = _article_dates(con)
    mentions: Counter[tuple[str, date]] = Counter()
    articles: dict[tuple[str, date], set[str]] = {}
    for entity_id, article_id in con.execute("SELECT entity_id, article_id FROM entity_mentions").fetchall():
        key = (entity_id, dates[article_id])
        mentions[key] += 1
        articles.setdefault(key, set()).add(article_id)

    daily = _rows(con, "SELECT * FROM entity_daily_mentions")
    assert {(row["entity_id"], row["day"]): row["mention_count"] for row in daily} == mentions
    assert {(row["entity_id"], row["day"]): row["article_count"] for row in daily} == {
        key: len(ids) for key, ids in articles.items()
    }
    assert sum(row["mention_count"] for row in daily) == scalar(con.execute("SELECT count(*) FROM entity_mentions"))
    assert date(2016, 12, 18) in {row["day"] for row in daily if row["entity_id"] == _speaker(con)}
