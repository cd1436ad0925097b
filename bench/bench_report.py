"""What the data-quality page costs on a large history: building it, and a browser showing it (a benchmark, not a test).

    .venv/bin/python bench/bench_report.py [--articles 100000] [--repeat 5] [--json]

A migrated database is filled in SQL with a synthetic history of N articles, in the tables the page reads only:
50 feeds over 120 days, 8 entities and 3 quotes per article, a copy for one article in ten, 5% of inputs
quarantined under 20 reasons (their wording varies by a number; a quarter of them by validation), 2,000 runs,
7 days of polls every 5 minutes per feed. Values are random (fixed seed): what matters is the row counts the
page's SQL aggregates. Then, in this process, the page is built from the file (open read-only, every query,
the template, the SVG plots) `--repeat` times; the first build also pays the imports' first use. Last, when
Chromium is installed, headless Chromium opens the written file `--repeat` times and the page notes when it was
loaded and laid out (`document.body.dataset.renderedMs`, from navigation start; Chromium's own start excluded).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.reporting.refresh import build_quality_page
from pipelines.storage.store import Store

FEEDS = 50
DAYS = 120
ENTITIES_PER_ARTICLE = 8
QUOTES_PER_ARTICLE = 3
RUNS = 2000
REASONS = 20
POLLS_PER_DAY = 288  # every 5 minutes
POLL_DAYS = 7
NOW = datetime(2026, 12, 1, tzinfo=UTC)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--dump-dom")
RENDERED_MS = re.compile(r'data-rendered-ms="(\d+)"')

# `n` is the row number; `?` is NOW. Every table the page reads, at the scale of `articles`.
FILL = [
    "SELECT setseed(0.42)",
    f"""INSERT INTO sources SELECT 'src' || i, 'feed', 'https://s' || i || '.example/rss', 'Source ' || i,
        ?::TIMESTAMPTZ FROM range({FEEDS}) t(i)""",
    f"""INSERT INTO articles (article_id, raw_id, source_id, item_key, uri, title_missing, mixed_language, body_text,
        word_count, content_hash, fetched_at, extractor, flags, version, first_seen_at, updated_at, run_id)
        SELECT 'a' || i, 'r' || i, 'src' || (i % {FEEDS}), 'k' || i, 'u' || i, false, false, 'body',
               200 + (random() * 1300)::INT, 'h' || i, ts, 'trafilatura', [], 1, ts, ts, 'run' || (i % {RUNS})
        FROM (SELECT i, ?::TIMESTAMPTZ - to_seconds((random() * {DAYS} * 86400)::BIGINT) AS ts
              FROM range(:n) t(i))""",
    """INSERT INTO raw_documents SELECT 'r' || i, 'src' || (i % 50), 'u' || i,
        ?::TIMESTAMPTZ - to_seconds((random() * 120 * 86400)::BIGINT),
        'sha', 1000, 'text/html', CASE WHEN i % 20 = 0 THEN 'quarantined' ELSE 'loaded' END, NULL, 'run' || (i % 2000)
        FROM range(:n * 105 // 100) t(i)""",
    f"""INSERT INTO quarantine (quarantine_id, run_id, raw_id, stage, reason, detail, created_at, table_name, record_id)
        SELECT 'q' || i, 'run' || (i % {RUNS}), 'r' || i, CASE WHEN i % 80 = 0 THEN 'validate' ELSE 'parse' END,
               'reason ' || chr((65 + i // 20 % {REASONS})::INTEGER) || ': bad item at line ' || (i % 97),
               'detail of ' || i,
               ?::TIMESTAMPTZ - to_seconds((random() * {DAYS} * 86400)::BIGINT),
               CASE WHEN i % 80 = 0 THEN 'articles' END, CASE WHEN i % 80 = 0 THEN 'a' || i END
        FROM range(0, :n * 105 // 100, 20) t(i)""",
    f"""INSERT INTO article_entities (article_id, local_id, name, name_key, votes, mentions, entity_id, type)
        SELECT 'a' || (i // {ENTITIES_PER_ARTICLE}), 'l' || i, 'n', 'n', MAP {{'ORG': 1.0}}, 2,
               'e' || (random() * 50000)::INT, 'ORG'
        FROM range(:n * {ENTITIES_PER_ARTICLE}) t(i)""",
    f"""INSERT INTO quotes (quote_id, article_id, quote_text, start_char, end_char, kind, confidence, method)
        SELECT 'qt' || i, 'a' || (i // {QUOTES_PER_ARTICLE}), 'q', 0, 1, 'direct', 0.9, 'bench'
        FROM range(:n * {QUOTES_PER_ARTICLE}) t(i)""",
    """INSERT INTO article_duplicates SELECT 'a' || i, 'c' || i, 'rc' || i, NULL, 'src' || (i % 50), 'minhash', 0.9,
        ?::TIMESTAMPTZ - to_seconds((random() * 120 * 86400)::BIGINT), 'run' || (i % 2000)
        FROM range(0, :n, 10) t(i)""",
    f"""INSERT INTO ingest_runs (run_id, started_at, finished_at, status, trigger, inputs, unchanged, articles_new,
        articles_updated, articles_same, skipped, quarantined, validation_success, validation_seconds, quality_pages)
        SELECT 'run' || i, ts, ts + INTERVAL 40 SECOND, 'success', 'airflow', 60, 5, 50, 2, 3, 0, 3, i % 7 <> 0, 2.5,
               '{{}}'
        FROM (SELECT i, ?::TIMESTAMPTZ - to_seconds(i * {DAYS} * 86400 // {RUNS}) AS ts FROM range({RUNS}) t(i))""",
    f"""INSERT INTO run_source_counts SELECT 'run' || i, 'src' || (i % {FEEDS}), 40 + (random() * 20)::INT,
        ?::TIMESTAMPTZ - to_seconds(i * {DAYS} * 86400 // {RUNS}) FROM range({RUNS}) t(i)""",
    f"""INSERT INTO feed_state (source_id, url, name, consecutive_failures, last_status, last_outcome, last_error,
        last_polled_at, next_poll_at, last_success_at)
        SELECT 'src' || i, 'https://s' || i || '.example/rss', 'Source ' || i, CASE WHEN i % 10 = 0 THEN 4 ELSE 0 END,
               CASE WHEN i % 10 = 0 THEN 500 ELSE 304 END,
               CASE WHEN i % 10 = 0 THEN 'http_error' ELSE 'not_modified' END,
               CASE WHEN i % 10 = 0 THEN 'HTTP 500' END,
               ?::TIMESTAMPTZ, ?::TIMESTAMPTZ + INTERVAL 5 MINUTE, ?::TIMESTAMPTZ
        FROM range({FEEDS}) t(i)""",
    f"""INSERT INTO fetch_events SELECT 'ev' || i, 'run' || (i % {RUNS}), 'src' || (i % {FEEDS}), 'u', 'feed',
        ?::TIMESTAMPTZ - to_seconds(i // {FEEDS} * 300), CASE WHEN i % 3 = 0 THEN 200 ELSE 304 END, 'ok', 100, 50, NULL
        FROM range({FEEDS * POLLS_PER_DAY * POLL_DAYS}) t(i)""",
    """INSERT INTO feed_items (source_id, item_key, outcome, first_seen_at, run_id)
        SELECT 'src' || (i % 50), 'k' || i, 'loaded', ?::TIMESTAMPTZ - to_seconds((random() * 120 * 86400)::BIGINT),
               'run1'
        FROM range(:n) t(i)""",
]


def fill(path: Path, articles: int) -> dict[str, int]:
    """A migrated database at `path` with the synthetic history; returns rows per table the page reads."""
    with Store.open(path, PROJECT_ROOT / "schemas") as store:
        for statement in FILL:
            sql = statement.replace(":n", str(articles))
            store.con.execute(sql, [NOW] * sql.count("?"))
        store.con.execute("CHECKPOINT")
        tables = (
            "articles",
            "raw_documents",
            "quarantine",
            "article_entities",
            "quotes",
            "article_duplicates",
            "ingest_runs",
            "run_source_counts",
            "feed_state",
            "fetch_events",
            "feed_items",
        )
        counts: dict[str, int] = {}
        for table in tables:
            row = store.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert row is not None  # count(*) always returns one row
            counts[table] = row[0]
        return counts


def browser_render_ms(page: Path, repeat: int) -> list[int] | None:
    """Headless Chromium opens the page `repeat` times; each time the DOM it dumps once loaded carries the
    milliseconds the page noted from navigation to laid out. None without Chromium."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        return None
    timings = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench_report_profile_") as profile:
            dumped = subprocess.run(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", page.as_uri()],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
        found = RENDERED_MS.search(dumped)
        if found is None:
            raise RuntimeError("the page did not note its render time (data-rendered-ms missing from the DOM)")
        timings.append(int(found[1]))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write", type=Path, help="Also save the page here (to open it in a browser).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        root = Path(tmp)
        shutil.copytree(PROJECT_ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
        settings = Settings(db_path=root / "news.duckdb", gx_dir=root / "gx", feeds_file=root / "none.yaml")
        started = time.perf_counter()
        rows = fill(settings.db_path, args.articles)
        filled = time.perf_counter() - started
        seconds, page = [], ""
        for _ in range(args.repeat):
            started = time.perf_counter()
            page = build_quality_page(settings, NOW)
            seconds.append(time.perf_counter() - started)
        written = root / "quality.html"
        written.write_text(page, encoding="utf-8")
        render_ms = browser_render_ms(written, args.repeat)
    size = len(page.encode())
    if args.write:
        args.write.write_text(page, encoding="utf-8")
    result = {
        "articles": args.articles,
        "rows": rows,
        "fill_seconds": round(filled, 1),
        "first_build_seconds": round(seconds[0], 3),
        "warm_build_seconds_median": round(statistics.median(seconds[1:] or seconds), 3),
        "page_bytes": size,
        "browser_rendered_ms": render_ms,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{args.articles:,} articles (rows: {', '.join(f'{t} {n:,}' for t, n in rows.items())}); "
        f"filled in {filled:.1f} s"
    )
    print(
        f"page built in {seconds[0]:.3f} s the first time, {result['warm_build_seconds_median']:.3f} s warm "
        f"(median of {len(seconds) - 1}); {size / 2**10:,.0f} KiB of HTML, plots as inline SVG"
    )
    if render_ms is None:
        print("headless Chromium: not installed, the in-browser render time was not measured")
    else:
        print(
            f"headless Chromium: loaded and laid out {statistics.median(render_ms):,.0f} ms after navigation "
            f"(median of {len(render_ms)}: {', '.join(map(str, render_ms))} ms)"
        )


if __name__ == "__main__":
    main()
