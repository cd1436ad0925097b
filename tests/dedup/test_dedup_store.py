"""Deduplication through the real pipeline and DuckDB: seeds stay apart, copies are recorded, order does not matter."""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.pipeline import ingest_folder

BASE_TIME = datetime(2016, 12, 1, 8, 0, tzinfo=UTC)


def _settings(folder: Path, db: Path) -> Settings:
    return Settings.from_env(seeds_dir=folder, db_path=db, staging_dir=db.parent / "staging")


def _tables(db: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    articles = con.execute("SELECT article_id, title FROM articles ORDER BY ALL").fetchall()
    duplicates = con.execute("SELECT article_id, duplicate_article_id FROM article_duplicates ORDER BY ALL").fetchall()
    con.close()
    return articles, duplicates


def test_seeds_stay_apart_and_a_retitled_copy_is_recorded(tmp_path: Path, seeds_dir: Path) -> None:
    folder = tmp_path / "seeds"
    shutil.copytree(seeds_dir, folder)
    db = tmp_path / "news.duckdb"
    ingest_folder(_settings(folder, db))
    ingest_folder(_settings(folder, db))
    articles, duplicates = _tables(db)
    assert len(articles) == 5 and duplicates == []  # 000 and 004 cover the same meeting: still two stories

    original = next(folder.glob("004_*.txt")).read_text()
    copy = original.replace("• Kyodo", "• Japan Wire Service").replace(
        "Foreign Minister Fumio Kishida and", "Japan's Foreign Minister Fumio Kishida and")
    (folder / "zz_copy.txt").write_text("Kishida and Lavrov agree to keep talking on treaty\n\n" + copy)
    counts = ingest_folder(_settings(folder, db))
    assert counts.articles_new == 1  # a new input, recognised as a copy
    articles, duplicates = _tables(db)
    assert len(articles) == 5
    assert len(duplicates) == 1
    assert con_value(db, "SELECT method FROM article_duplicates") == "minhash"
    con = duckdb.connect(str(db), read_only=True)
    uri = con.execute("SELECT r.uri FROM article_duplicates d JOIN raw_documents r ON r.raw_id = d.duplicate_raw_id").fetchone()
    assert uri == ("zz_copy.txt",)
    con.close()


def con_value(db: Path, sql: str) -> object:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def _corpus(seeds_dir: Path) -> list[dict[str, object]]:
    """Each seed as published, plus copies: retitled, re-wrapped in boilerplate, with a paragraph dropped;
    some copies predate their original, so the canonical must move when they arrive."""
    items = []
    for index, path in enumerate(sorted(seeds_dir.glob("*.txt"))):
        paragraphs = [p for p in path.read_text().split("\n") if len(p.split()) > 8]
        body = "\n\n".join(paragraphs)
        published = BASE_TIME + timedelta(hours=index)
        items.append({"url": f"https://wire.example/{index}", "title": f"Story {index}", "body": body,
                      "published_at": published.isoformat()})
        items.append({"url": f"https://paper.example/a/{index}", "title": f"Paper headline {index}",
                      "body": "Subscribe to our morning briefing.\n\n" + body,
                      "published_at": (published + timedelta(minutes=30)).isoformat()})
        items.append({"url": f"https://blog.example/{index}?utm_source=x", "title": f"Blog {index}",
                      "body": "\n\n".join(paragraphs[:-1]),
                      "published_at": (published - timedelta(minutes=5 if index % 2 else -50)).isoformat()})
    return items


def test_any_order_and_any_batches_give_the_same_stories(tmp_path: Path, seeds_dir: Path) -> None:
    items = _corpus(seeds_dir)
    results = []
    for trial in range(3):
        rng = random.Random(trial)
        shuffled = items[:]
        rng.shuffle(shuffled)
        cuts = sorted(rng.sample(range(1, len(shuffled)), 2))
        db = tmp_path / f"trial{trial}" / "news.duckdb"
        for number, batch in enumerate(zip([0, *cuts], [*cuts, len(shuffled)], strict=True)):
            folder = tmp_path / f"trial{trial}" / f"batch{number}"
            folder.mkdir(parents=True)
            (folder / "items.jsonl").write_text("\n".join(json.dumps(item) for item in shuffled[batch[0]:batch[1]]))
            ingest_folder(_settings(folder, db))
        results.append(_tables(db))
    articles, duplicates = results[0]
    assert len(articles) == 5 and len(duplicates) == 10
    assert all(result == results[0] for result in results[1:])
