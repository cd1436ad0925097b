"""Long texts and pathological files through `newsflow ingest`: time, peak memory, and what became of each file.

    python bench/bench_pathological.py [--long-sizes 1500000 5000000] [--alone 10000000]

1. The folder of issue 25 (tests/pathological.py): the seeds beside 1.5 MB and 5 MB texts, a one-line
   3 MB HTML page, 20,000 nested <div>s, UTF-16 and Latin-1 texts, NUL bytes inside text and JSON nested
   50,000 deep, ingested by `newsflow ingest` into a fresh database (2 workers unless NEWSFLOW_WORKERS).
2. One text of `--alone` bytes (the file cap, NEWSFLOW_MAX_FILE_BYTES) alone, with one worker: the peak RSS of the
   process that parses it is what a long document costs. Its paragraphs are the seeds' words shuffled
   (`distinct_text`), so, as in a real ruling, almost no run of words repeats.

Each ingest runs in a fresh process; its wall time, CPU-s and the peak RSS of it and of its workers are
printed, then each file's status and the long texts' mentions and quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT / "tests"))

from pathological import distinct_text, news_paragraphs, write_folder

from pipelines.config import DEFAULT_MAX_FILE_BYTES

MiB = 2**20


def ingest(folder: Path, work: Path, workers: int) -> dict[str, float]:
    """`newsflow ingest` of `folder` in a fresh process (through a small wrapper that reports its own peak)."""
    env = {**os.environ, "NEWSFLOW_WORKERS": str(workers), "NEWSFLOW_STAGING_DIR": str(work / "staging")}
    started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "ingest",
            "--seeds",
            str(folder),
            "--db",
            str(work / "news.duckdb"),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"ingest failed: {done.stderr[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
        "peak_rss_mib": after.ru_maxrss / 1024,
        **json.loads(done.stdout),
    }


def outcome(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("""
            SELECT r.uri, r.status, left(coalesce(r.reason, ''), 90), length(a.body_text),
                   (SELECT count(*) FROM entity_mentions m WHERE m.article_id = a.article_id),
                   (SELECT count(*) FROM quotes q WHERE q.article_id = a.article_id)
            FROM raw_documents r LEFT JOIN articles a USING (raw_id) ORDER BY r.uri""").fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-sizes", type=int, nargs="+", default=[1_500_000, 5_000_000])
    parser.add_argument("--html-size", type=int, default=3_000_000)
    parser.add_argument(
        "--alone", type=int, default=DEFAULT_MAX_FILE_BYTES, help="bytes of the text parsed alone (0: skip)"
    )
    parser.add_argument("--workers", type=int, default=int(os.environ.get("NEWSFLOW_WORKERS", "2")))
    args = parser.parse_args()
    seeds = PROJECT_ROOT / "seeds"
    with tempfile.TemporaryDirectory(prefix="newsflow-pathological-") as tmp:
        work = Path(tmp)
        folder = work / "seeds"
        added = write_folder(folder, seeds, tuple(args.long_sizes), args.html_size)
        run = ingest(folder, work / "folder", args.workers)
        print(
            f"folder: {len(list(folder.iterdir()))} files ({len(added)} pathological), "
            f"{sum(path.stat().st_size for path in folder.iterdir()) / MiB:.1f} MiB: {run['wall_s']:.0f} s wall, "
            f"{run['cpu_s']:.0f} CPU-s, peak RSS {run['peak_rss_mib']:.0f} MiB (largest process), "
            f"{args.workers} workers; exit 0"
        )
        print("| file | status | reason | characters | mentions | quotes |\n|---|---|---|---:|---:|---:|")
        for uri, status, reason, length, mentions, quotes in outcome(work / "folder" / "news.duckdb"):
            print(
                f"| {uri} | {status} | {reason} | {length or ''} | "
                f"{mentions if length else ''} | {quotes if length else ''} |"
            )
        if args.alone:
            alone = work / "alone"
            alone.mkdir()
            text = distinct_text(news_paragraphs(seeds), args.alone, "A long record").encode("utf-8")[: args.alone]
            (alone / "long.txt").write_bytes(text.decode("utf-8", errors="ignore").encode("utf-8"))
            one = ingest(alone, work / "alone_db", 1)
            ((_, status, _, length, mentions, quotes),) = outcome(work / "alone_db" / "news.duckdb")
            print(
                f"one text of {length:,} characters alone ({status}, {mentions:,} mentions, {quotes:,} quotes): "
                f"{one['wall_s']:.0f} s wall, {one['cpu_s']:.0f} CPU-s, peak RSS {one['peak_rss_mib']:.0f} MiB"
            )


if __name__ == "__main__":
    main()
