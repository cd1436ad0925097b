"""What a publish costs at 10k, 100k and 1M articles (a benchmark, not a test).

    .venv/bin/python bench/bench_publish.py [--sizes 10000 100000 1000000] [--json]     (or `make bench-publish`)

The seeds are ingested by the real pipeline (`ingest_folder`: real schema, real rows in every table), then
the writer's file is scaled to N articles in place: every row of every table that hangs off an article or
a raw document (it has an `article_id` or `raw_id` column) is replicated N / (seed articles) times.

What is synthetic in a replica, so that neither DuckDB nor Parquet can compress the copies to nothing:
- its ids and addresses (`*_id`, `item_key`, `url`, `uri`) get a `~<replica>` suffix, so keys stay unique and
  children point at their replicated article; `entity_id`, `source_id` and `run_id` are kept (entities and
  outlets recur across articles, as in real news);
- its body (`articles.body_text`, `article_versions.body_text`) is random words of the seeds' vocabulary
  (numpy, fixed seed), as long as the original; mention, quote and speaker texts are cut from that body at
  the original offsets, so `text == body_text[start:end]` still holds;
- its hashes (`content_hash`, `content_sha256`, `fingerprint`), MinHash signature and LSH band hashes are
  re-hashed with the replica number, distinct as real ones are;
- it is not published yet (`_segment` NULL): the first publish writes everything.
Titles stay the seeds' own, and `entities`, runs and sources are not scaled: small beside the bodies.

Then, per N, a fresh process (its peak RSS is the publisher's) times `open_writer` + `publish`: the first
publish (every table written as segments, as an upgraded install's first load does); then another fresh
process, as every load runs in one, times a later publish after a 100-article load: 100 more replicated
articles (rows in every per-article table), their run, and the seeds' entities replaced (re-resolved
names), which is what a load of 100 articles writes. Its peak RSS is counted from the publish's start
(what the load left cached is resident then, and included). Then the
files it holds, and two queries over all articles on the published catalog and on one DuckDB file holding
the same data (the writer's own), as today's single-file snapshot held it: a count, and a count per
source and day.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.pipeline import ingest_folder, new_run_id
from pipelines.storage.catalog import published_folder
from pipelines.storage.publish import Published, open_writer, publish
from pipelines.tables import SEGMENT, SEGMENTED_TABLES

T = TypeVar("T")
MiB = 2**20
RANDOM_SEED = 12
PER_ARTICLE_KEYS = ("article_id", "raw_id")
# Shared across articles: a replica points at the same entity, outlet and run as its original.
SHARED_COLUMNS = frozenset({"entity_id", "speaker_entity_id", "source_id", "run_id"})
ADDRESS_COLUMNS = frozenset({"item_key", "url", "uri"})
# How a replica's column is derived from the original row `o`, the replica number `r.n` and its body `b`.
DERIVED = {
    "body_text": "b.body_text",
    "mention_text": "substr(b.body_text, o.start_char + 1, o.end_char - o.start_char)",
    "quote_text": "substr(b.body_text, o.start_char + 1, o.end_char - o.start_char)",
    "speaker_text": "CASE WHEN o.speaker_start IS NULL THEN o.speaker_text "
    "ELSE substr(b.body_text, o.speaker_start + 1, o.speaker_end - o.speaker_start) END",
    "content_hash": "sha256(o.content_hash || '~' || r.n)",
    "content_sha256": "sha256(o.content_sha256 || '~' || r.n)",
    "fingerprint": "sha256(o.fingerprint || '~' || r.n)",
    "signature": "list_transform(o.signature, lambda x: hash(x, r.n))",
    "band_hash": "hash(o.band_hash, r.n)",
    SEGMENT: "NULL",
}
# A load of this many articles precedes the later publish.
LOAD_ARTICLES = 100
QUERIES = {
    "count": "SELECT count(*) FROM articles",
    "per source and day": "SELECT source_id, CAST(coalesce(published_at, fetched_at) AS DATE) AS day, count(*)"
    " FROM articles GROUP BY ALL ORDER BY ALL",
}
BODY_COLUMNS = frozenset({"body_text", "mention_text", "quote_text", "speaker_text"})


def replica_expression(column: str, data_type: str) -> str:
    """The SQL for one column of a replica (see DERIVED and the module docstring)."""
    if column in DERIVED:
        return DERIVED[column]
    if (
        data_type == "VARCHAR"
        and column not in SHARED_COLUMNS
        and (column.endswith("_id") or column in ADDRESS_COLUMNS)
    ):
        return f"o.\"{column}\" || '~' || r.n"
    return f'o."{column}"'


def replicate_sql(table: str, columns: list[tuple[str, str]], numbers: range) -> str:
    """INSERT the replicas `numbers` of each original row of `table`, joined to their synthetic body if they need it."""
    names = [name for name, _ in columns]
    quoted = ", ".join(f'"{name}"' for name in names)
    select = ", ".join(replica_expression(name, data_type) for name, data_type in columns)
    sql = (
        f'INSERT INTO "{table}" ({quoted}) SELECT {select} '
        f'FROM "{table}" AS o CROSS JOIN range({numbers.start}, {numbers.stop}) AS r(n)'
    )
    originals = [f"o.\"{key}\" NOT LIKE '%~%'" for key in PER_ARTICLE_KEYS if key in names]
    if BODY_COLUMNS & set(names):
        version = "b.version = o.version" if "version" in names else "b.is_current"
        sql += f" JOIN bench_bodies AS b ON b.article_id = o.article_id AND b.n = r.n AND {version}"
    return sql + " WHERE " + " AND ".join(originals)


def synthetic_bodies(lengths: list[int], vocabulary: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Random words of the vocabulary, each text cut to its length: as incompressible as real prose, no more."""
    mean_word = float(np.mean([len(word) for word in vocabulary])) + 1
    bodies = []
    for length in lengths:
        text = ""
        while len(text) < length:
            text += " ".join(vocabulary[rng.integers(0, len(vocabulary), int(length / mean_word) + 16)]) + " "
        bodies.append(text[:length])
    return bodies


def body_table(con: Any, numbers: range) -> pa.Table:
    """One synthetic body per replicated article version.

    Keyed by the original's (article_id, version) and replica n.
    """
    versions = con.execute(
        "SELECT v.article_id, v.version, length(v.body_text), v.version = a.version "
        "FROM article_versions v JOIN articles a USING (article_id) WHERE v.article_id NOT LIKE '%~%'"
        " ORDER BY v.article_id, v.version"
    ).fetchall()
    words = {
        word for (body,) in con.execute("SELECT body_text FROM article_versions").fetchall() for word in body.split()
    }
    vocabulary = np.array(sorted(words), dtype=object)
    keys = [
        (article_id, n, version, length, current) for n in numbers for article_id, version, length, current in versions
    ]
    bodies = synthetic_bodies([key[3] for key in keys], vocabulary, np.random.default_rng(RANDOM_SEED + numbers.start))
    return pa.table(
        {
            "article_id": [key[0] for key in keys],
            "n": pa.array([key[1] for key in keys], pa.int64()),
            "version": pa.array([key[2] for key in keys], pa.int32()),
            "is_current": [key[4] for key in keys],
            "body_text": bodies,
        }
    )


def scale(settings: Settings, articles: int) -> int:
    """Replicate the writer's per-article rows until it holds about `articles` articles; returns how many it holds.

    The writer was copied from the seeds' run, whose segments are another folder's: it starts unpublished."""
    with open_writer(settings) as store:
        with store.transaction():
            for table in SEGMENTED_TABLES:
                store.con.execute(f"UPDATE {table} SET {SEGMENT} = NULL")
            store.con.execute("DELETE FROM published_segments")
            store.con.execute("DELETE FROM lost_segments")
        ((seed_articles,),) = store.con.execute("SELECT count(*) FROM articles").fetchall()
        return replicate(store, range(1, max(1, round(articles / seed_articles))))


def replicate(store: Any, numbers: range) -> int:
    """Add the replicas `numbers` of the seed articles' rows to every per-article table; the articles now held."""
    con = store.con
    tables = con.execute(
        "SELECT table_name, list(column_name ORDER BY column_index), list(data_type ORDER BY column_index) "
        "FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' "
        "AND table_name IN (SELECT table_name FROM duckdb_tables()) GROUP BY table_name "
        "HAVING list_has_any(list(column_name), ?) ORDER BY table_name",
        [list(PER_ARTICLE_KEYS)],
    ).fetchall()
    con.register("bench_bodies_frame", body_table(con, numbers))
    con.execute("CREATE TEMP TABLE bench_bodies AS SELECT * FROM bench_bodies_frame")
    con.unregister("bench_bodies_frame")
    with store.transaction():
        for table, names, types in tables:
            con.execute(replicate_sql(table, list(zip(names, types, strict=True)), numbers))
    con.execute("DROP TABLE bench_bodies")
    ((held,),) = con.execute("SELECT count(*) FROM articles").fetchall()
    return held


def timed(call: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, CPU seconds of this process, DuckDB's threads included)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def load_then_publish(settings: Settings) -> tuple[Published, float, float]:
    """What a load of LOAD_ARTICLES articles writes (their rows, their run, the seeds' entities re-resolved), then
    the publish every such load pays; only the publish is timed by the caller."""
    with open_writer(settings) as store:
        ((articles,),) = store.con.execute("SELECT count(*) FROM articles").fetchall()
        seeds = store.con.execute("SELECT count(*) FROM articles WHERE article_id NOT LIKE '%~%'").fetchall()[0][0]
        replicate(store, range(articles // seeds + 1, articles // seeds + 1 + LOAD_ARTICLES // seeds))
        entities = store.con.sql(f"SELECT * EXCLUDE ({SEGMENT}) FROM entities").fetchall()
        columns = [column for column in store.con.sql("SELECT * FROM entities").columns if column != SEGMENT]
        with store.transaction():
            store.insert(
                "entities",
                [{**dict(zip(columns, row, strict=True)), "updated_at": datetime.now(UTC)} for row in entities],
                on_conflict="REPLACE",
            )
            store.insert(
                "ingest_runs",
                [
                    {
                        "run_id": new_run_id("bench"),
                        "started_at": datetime.now(UTC),
                        "status": "success",
                        "trigger": "bench",
                    }
                ],
            )
        reset_peak_rss()  # what the load cached stays resident; the peak from here on is the publish's
        return timed(lambda: publish(store, settings))


def reset_peak_rss() -> None:
    """Start VmHWM afresh at the current RSS (Linux: `5` to /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def disk_bytes(path: Path) -> int:
    """Blocks a file, or every file below a folder, holds on disk, not the apparent size."""
    if path.is_dir():
        return sum(disk_bytes(child) for child in path.rglob("*") if child.is_file())
    return path.stat().st_blocks * 512 if path.exists() else 0


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM starts afresh at exec, unlike ru_maxrss (kept from the parent)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def query_ms(path: Path, sql: str) -> float:
    """The best of five runs of `sql` on a fresh read-only session of `path`, in milliseconds."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        best = min(timed(lambda: con.execute(sql).fetchall())[1] for _ in range(5))
    finally:
        con.close()
    return best * 1000


# What a measurement in a fresh process reports: seconds, MiB, and (published, single file) query timings.
Measured = dict[str, float | tuple[float, float]]


def measure_first(settings: Settings) -> Measured:
    """In a fresh process: the first publish (every table written), and this process's peak RSS."""
    rss_start = peak_rss_mib()
    with open_writer(settings) as store:
        first, first_s, first_cpu = timed(lambda: publish(store, settings))
    return {
        "first_publish_s": first_s,
        "first_publish_cpu_s": first_cpu,
        "first_written_mib": first.bytes_written / MiB,
        "first_peak_rss_mib": peak_rss_mib(),
        "rss_start_mib": rss_start,
    }


def measure_later(settings: Settings, articles: int) -> Measured:
    """In a fresh process, as every load is: a later publish after a load, the files, the queries, the peak RSS."""
    writer_bytes = disk_bytes(settings.writer_db_path)
    (later, later_s, later_cpu) = load_then_publish(settings)
    peak = peak_rss_mib()
    published = disk_bytes(settings.db_path) + disk_bytes(published_folder(settings.db_path))
    queries = {
        name: (query_ms(settings.db_path, sql), query_ms(settings.writer_db_path, sql)) for name, sql in QUERIES.items()
    }
    return {
        "articles": articles,
        "writer_mib": writer_bytes / MiB,
        "published_mib": published / MiB,
        "disk_held_mib": (disk_bytes(settings.writer_db_path) + published) / MiB,
        "later_publish_s": later_s,
        "later_publish_cpu_s": later_cpu,
        "later_written_mib": later.bytes_written / MiB,
        "later_peak_rss_mib": peak,
        **{f"{name} ms (published, single file)": value for name, value in queries.items()},
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """The table for the README."""
    lines = [
        "| articles | writer MiB | published MiB | disk held MiB | first publish s (CPU), peak RSS MiB "
        "| later publish s (CPU), peak RSS MiB | later written MiB | count ms: published / single file "
        "| per source and day ms: published / single file |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        count, per_day = r["count ms (published, single file)"], r["per source and day ms (published, single file)"]
        lines.append(
            f"| {r['articles']:,} | {r['writer_mib']:.0f} | {r['published_mib']:.0f} | {r['disk_held_mib']:.0f} "
            f"| {r['first_publish_s']:.1f} ({r['first_publish_cpu_s']:.1f}), {r['first_peak_rss_mib']:.0f} "
            f"| {r['later_publish_s']:.2f} ({r['later_publish_cpu_s']:.2f}), {r['later_peak_rss_mib']:.0f} "
            f"| {r['later_written_mib']:.1f} | {count[0]:.1f} / {count[1]:.1f} | {per_day[0]:.0f} / {per_day[1]:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000], help="articles per measurement"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsflow-publish-"))
    try:
        seeded = Settings.from_env(
            seeds_dir=PROJECT_ROOT / "seeds",
            db_path=work / "seed" / "news.duckdb",
            staging_dir=work / "seed" / "staging",
        )
        ingest_folder(seeded)
        results = []
        for size in args.sizes:
            folder = work / str(size)
            settings = Settings.from_env(
                seeds_dir=seeded.seeds_dir, db_path=folder / "news.duckdb", staging_dir=folder / "staging"
            )
            settings.writer_db_path.parent.mkdir(parents=True)
            shutil.copyfile(seeded.writer_db_path, settings.writer_db_path)
            articles, scale_s, _ = timed(functools.partial(scale, settings, size))
            print(f"{articles} articles: writer scaled in {scale_s:.0f} s", flush=True)
            measured: dict[str, Any] = {}
            for measure, arguments in ((measure_first, (settings,)), (measure_later, (settings, articles))):
                with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                    measured |= pool.submit(measure, *arguments).result()
            results.append(measured)
            shutil.rmtree(folder)
        print(json.dumps(results, indent=2) if args.json else markdown(results))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
