"""Every input file is accounted for exactly once: loaded, skipped or quarantined with a reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from sample_inputs import ARTICLE, EMPTY_FEED, FEED, PAGE
from table_snapshot import first_row, scalar

from pipelines.config import Settings
from pipelines.pipeline import ingest_folder


@pytest.fixture()
def mixed_folder(tmp_path: Path, seeds_dir: Path) -> Path:
    folder = tmp_path / "inbox"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(next(seeds_dir.glob("001_*.txt")), folder / "nested" / "tass.txt")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_text("  \n\n ")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "cp1251.txt").write_bytes("Москва — столица России.\n\nТекст статьи.".encode("cp1251"))
    (folder / "latin1.txt").write_bytes("Café owners in Zürich said prices rose.".encode("latin-1"))
    with (folder / "huge.txt").open("wb") as handle:  # 50 MB, sparse: cheap to create
        handle.truncate(50 * 1024 * 1024)
    os.symlink(folder / "missing.txt", folder / "unreadable.txt")
    (folder / "broken.json").write_text('{"title": "x", "body": ')
    (folder / "article.json").write_text(json.dumps(ARTICLE))
    (folder / "stream.jsonl").write_text(
        json.dumps({**ARTICLE, "url": "https://example.org/other", "title": "Other story"})
        + "\n{not json}\n"
        + json.dumps({"title": "no body"})
        + "\n"
    )
    (folder / "wire.rss").write_text(FEED)
    (folder / "empty.xml").write_text(EMPTY_FEED)
    (folder / "page.html").write_text(PAGE)
    (folder / "notes.md").write_text("# not an article")
    return folder


def _ingest(folder: Path, tmp_path: Path):
    settings = Settings.from_env(seeds_dir=folder, db_path=tmp_path / "news.duckdb", staging_dir=tmp_path / "staging")
    return settings, ingest_folder(settings)


def test_every_file_is_accounted_for_exactly_once(mixed_folder: Path, tmp_path: Path) -> None:
    settings, counts = _ingest(mixed_folder, tmp_path)
    files = sorted(p.relative_to(mixed_folder).as_posix() for p in mixed_folder.rglob("*") if not p.is_dir())
    con = duckdb.connect(str(settings.db_path), read_only=True)
    raw = dict(con.execute("SELECT uri, status FROM raw_documents").fetchall())
    assert sorted(raw) == files  # one row per file, none missing, none twice
    assert counts.inputs == len(files)
    expected_status = {
        "nested/tass.txt": "loaded",
        "article.json": "loaded",
        "stream.jsonl": "loaded",
        "wire.rss": "loaded",
        "page.html": "loaded",
        "notes.md": "skipped",
    }
    for uri, status in raw.items():
        assert status == expected_status.get(uri, "quarantined"), uri
    reasons = dict(con.execute("SELECT uri, reason FROM raw_documents WHERE status <> 'loaded'").fetchall())
    assert reasons["empty.txt"] == "empty file"
    assert "whitespace" in reasons["blank.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "not UTF-8" in reasons["cp1251.txt"] and "not UTF-8" in reasons["latin1.txt"]
    assert "too large" in reasons["huge.txt"]
    assert "not a regular file" in reasons["unreadable.txt"]
    assert "invalid JSON at line 1" in reasons["broken.json"]
    assert "feed has no items" in reasons["empty.xml"]
    assert "unsupported file type '.md'" in reasons["notes.md"]
    # every quarantined file has a quarantine row; partly bad files have one per bad item
    quarantined = {uri for uri, status in raw.items() if status == "quarantined"}
    q_uris = {
        uri
        for (uri,) in con.execute(
            "SELECT DISTINCT r.uri FROM quarantine q JOIN raw_documents r USING (raw_id)"
        ).fetchall()
    }
    assert quarantined <= q_uris
    items = con.execute(
        "SELECT q.detail, q.reason FROM quarantine q JOIN raw_documents r USING (raw_id) "
        "WHERE r.uri = 'stream.jsonl' ORDER BY q.detail"
    ).fetchall()
    assert items == [
        ("item 2", "invalid JSON on line 2, column 2: Expecting property name enclosed in double quotes"),
        ("item 3", "article has neither a non-empty 'body' nor 'html'"),
    ]


def test_formats_yield_articles_with_metadata(mixed_folder: Path, tmp_path: Path) -> None:
    settings, _ = _ingest(mixed_folder, tmp_path)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    rows = {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT title, url, published_at, language, authors, extractor, body_text FROM articles"
        ).fetchall()
    }
    bridge = rows["Bridge reopens"]
    assert bridge[0] == "https://example.org/story?id=7"  # tracking parameter dropped
    assert bridge[1].isoformat() == "2022-02-02T08:30:00+00:00"
    assert bridge[3] == ["A. Writer"] and bridge[4] == "plain-text"
    strike = rows["Port strike ends after two weeks"]
    assert strike[0] == "https://news.example.com/a/1"
    assert strike[2] == "en" and strike[5].startswith("Dock workers returned")
    library = rows["Library opens its doors"]
    assert library[4] == "trafilatura"
    assert "Home | News" not in library[5] and "reading by local schoolchildren" in library[5]
    assert "Russian and Japanese foreign ministers to discuss peace treaty in Moscow" in rows


@pytest.mark.slow
def test_rerun_adds_nothing_and_edit_becomes_a_new_version(mixed_folder: Path, tmp_path: Path) -> None:
    settings, first = _ingest(mixed_folder, tmp_path)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    tables = ("sources", "raw_documents", "articles", "article_versions", "quarantine")
    before = {t: scalar(con.execute(f"SELECT count(*) FROM {t}")) for t in tables}
    con.close()
    _, second = _ingest(mixed_folder, tmp_path)
    assert (second.articles_new, second.quarantined, second.unchanged) == (0, 0, first.inputs)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    assert {t: scalar(con.execute(f"SELECT count(*) FROM {t}")) for t in tables} == before
    con.close()

    edited = mixed_folder / "nested" / "tass.txt"
    edited.write_text(edited.read_text().replace("Monday", "Tuesday"))
    _, third = _ingest(mixed_folder, tmp_path)
    assert (third.articles_new, third.articles_updated) == (0, 1)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    assert scalar(con.execute("SELECT count(*) FROM articles")) == before["articles"]
    version, body = first_row(con.execute("SELECT version, body_text FROM articles WHERE uri = 'nested/tass.txt'"))
    assert version == 2 and "on Tuesday discuss" in body
    assert (
        scalar(
            con.execute(
                "SELECT count(*) FROM article_versions WHERE article_id = "
                "(SELECT article_id FROM articles WHERE uri = 'nested/tass.txt')"
            )
        )
        == 2
    )


def test_shards_split_the_folder_without_overlap(mixed_folder: Path, tmp_path: Path) -> None:
    from pipelines.pipeline import (
        load_stages,
        new_run_id,
        stage_folder,
        validate_stages,
    )

    settings = Settings.from_env(seeds_dir=mixed_folder, db_path=tmp_path / "s.duckdb", staging_dir=tmp_path / "st")
    run_id = new_run_id("test")
    batches = [stage_folder(settings, run_id, "test", shard, 3) for shard in range(3)]
    files = [p for p in mixed_folder.rglob("*") if not p.is_dir()]
    assert sum(batch.inputs for batch in batches) == len(files)
    validate_stages(settings, [batch.path for batch in batches])
    counts = load_stages(settings, [batch.path for batch in batches])
    assert counts.inputs == len(files)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    assert con.execute("SELECT count(DISTINCT uri), count(*) FROM raw_documents").fetchone() == (len(files), len(files))
    assert con.execute("SELECT count(*) FROM ingest_runs").fetchone() == (1,)


READ_SAVED_FEED = """
import sys
from pathlib import Path
from pipelines.config import Settings
from pipelines.sources.folder import folder_source, read_file
folder = Path(sys.argv[1])
result = read_file(folder / "wire.rss", folder, folder_source(folder), Settings())
assert [draft.title for draft in result.drafts] == ["Port strike ends after two weeks"], result
print(sorted(name for name in ("httpx", "httpcore") if name in sys.modules))
"""


def test_reading_a_saved_feed_does_not_load_the_http_stack(tmp_path: Path) -> None:
    """The folder reader parses a saved .rss with pipelines.sources.feedparse alone.

    A fresh interpreter never imports httpx.
    """
    (tmp_path / "wire.rss").write_text(FEED)
    out = subprocess.run(
        [sys.executable, "-c", READ_SAVED_FEED, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
