"""What publishing the snapshot costs at 10k and 100k articles (a benchmark, not a test).

    .venv/bin/python bench/bench_publish.py [--sizes 10000 100000] [--json]

The seeds are ingested by the real pipeline (`ingest_folder`: real schema, real rows in every table), then
the writer's file is scaled to N articles in place: every row of every table that hangs off an article or
a raw document (it has an `article_id` or `raw_id` column) is replicated N / (seed articles) times.

What is synthetic in a replica, so that DuckDB cannot compress the copies to nothing:
- its ids and addresses (`*_id`, `item_key`, `url`, `uri`) get a `~<replica>` suffix, so keys stay unique and
  children point at their replicated article; `entity_id`, `source_id` and `run_id` are kept (entities and
  outlets recur across articles, as in real news);
- its body (`articles.body_text`, `article_versions.body_text`) is random words of the seeds' vocabulary
  (numpy, fixed seed), as long as the original; mention, quote and speaker texts are cut from that body at
  the original offsets, so `text == body_text[start:end]` still holds;
- its hashes (`content_hash`, `content_sha256`, `fingerprint`), MinHash signature and LSH band hashes are
  re-hashed with the replica number, distinct as real ones are.
Titles stay the seeds' own, and `entities`, runs and sources are not scaled: small beside the bodies.

Then, per N, a fresh process (its peak RSS is the publisher's) times `open_writer` + `publish` twice: the
first publish (no snapshot yet), and a later one after a one-row change, which is what every load pays.
And, for comparison, a `newsflow query`-style count(*) on the snapshot. The writer's file was just written,
so the copy reads it from the page cache; the fsync makes the write reach the disk.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.pipeline import ingest_folder, new_run_id, run_query
from pipelines.storage.publish import Published, open_writer, publish

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
}
BODY_COLUMNS = frozenset({"body_text", "mention_text", "quote_text", "speaker_text"})


def replica_expression(column: str, data_type: str) -> str:
    """The SQL for one column of a replica (see DERIVED and the module docstring)."""
    if column in DERIVED:
        return DERIVED[column]
    if data_type == "VARCHAR" and column not in SHARED_COLUMNS and (column.endswith("_id") or column in ADDRESS_COLUMNS):
        return f'o."{column}" || \'~\' || r.n'
    return f'o."{column}"'


def replicate_sql(table: str, columns: list[tuple[str, str]], replicas: int) -> str:
    """INSERT the replicas 1..replicas-1 of every row of `table`, joined to their synthetic body when they need it."""
    names = [name for name, _ in columns]
    quoted = ", ".join(f'"{name}"' for name in names)
    select = ", ".join(replica_expression(name, data_type) for name, data_type in columns)
    sql = (f'INSERT INTO "{table}" ({quoted}) SELECT {select} '
           f'FROM "{table}" AS o CROSS JOIN range(1, {replicas}) AS r(n)')
    if BODY_COLUMNS & set(names):
        version = "b.version = o.version" if "version" in names else "b.is_current"
        sql += f" JOIN bench_bodies AS b ON b.article_id = o.article_id AND b.n = r.n AND {version}"
    return sql


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


def body_table(con: Any, replicas: int) -> pa.Table:
    """One synthetic body per replicated article version, keyed by the original's (article_id, version) and replica n."""
    versions = con.execute(
        "SELECT v.article_id, v.version, length(v.body_text), v.version = a.version "
        "FROM article_versions v JOIN articles a USING (article_id) ORDER BY v.article_id, v.version").fetchall()
    words = {word for (body,) in con.execute("SELECT body_text FROM article_versions").fetchall() for word in body.split()}
    vocabulary = np.array(sorted(words), dtype=object)
    keys = [(article_id, n, version, length, current)
            for n in range(1, replicas) for article_id, version, length, current in versions]
    bodies = synthetic_bodies([key[3] for key in keys], vocabulary, np.random.default_rng(RANDOM_SEED))
    return pa.table({"article_id": [key[0] for key in keys], "n": pa.array([key[1] for key in keys], pa.int64()),
                     "version": pa.array([key[2] for key in keys], pa.int32()),
                     "is_current": [key[4] for key in keys], "body_text": bodies})


def scale(settings: Settings, articles: int) -> int:
    """Replicate the writer's per-article rows until it holds about `articles` articles; returns how many it holds."""
    with open_writer(settings) as store:
        con = store.con
        seed_articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        replicas = max(1, round(articles / seed_articles))
        tables = con.execute(
            "SELECT table_name, list(column_name ORDER BY column_index), list(data_type ORDER BY column_index) "
            "FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' "
            "AND table_name IN (SELECT table_name FROM duckdb_tables()) GROUP BY table_name "
            "HAVING list_has_any(list(column_name), ?) ORDER BY table_name", [list(PER_ARTICLE_KEYS)]).fetchall()
        con.register("bench_bodies_frame", body_table(con, replicas))
        con.execute("CREATE TEMP TABLE bench_bodies AS SELECT * FROM bench_bodies_frame")
        con.unregister("bench_bodies_frame")
        with store.transaction():
            for table, names, types in tables:
                con.execute(replicate_sql(table, list(zip(names, types, strict=True)), replicas))
        con.execute("DROP TABLE bench_bodies")
        return con.execute("SELECT count(*) FROM articles").fetchone()[0]


def timed(call: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, CPU seconds of this process, DuckDB's threads included)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def open_and_publish(settings: Settings, change: bool) -> Published:
    """What a load pays after its transaction: open the writer, then publish (after one more row if `change`)."""
    with open_writer(settings) as store:
        if change:
            store.con.execute("INSERT INTO ingest_runs (run_id, started_at, status, trigger) "
                              "VALUES (?, now(), 'success', 'bench')", [new_run_id("bench")])
        return publish(store, settings.db_path)


def disk_bytes(path: Path) -> int:
    """Blocks the file holds on disk, not its apparent size."""
    return path.stat().st_blocks * 512 if path.exists() else 0


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM starts afresh at exec, unlike ru_maxrss (kept from the parent)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def measure_publish(settings: Settings, articles: int) -> dict[str, float]:
    """Run in a fresh process: the publishes, the snapshot's count(*), the files, and this process's peak RSS."""
    rss_start = peak_rss_mib()
    first, first_s, first_cpu = timed(lambda: open_and_publish(settings, change=False))
    later, later_s, later_cpu = timed(lambda: open_and_publish(settings, change=True))
    (_, rows), query_s, _ = timed(lambda: run_query(settings, "SELECT count(*) FROM articles"))
    if rows[0][0] != articles:
        raise RuntimeError(f"the snapshot holds {rows[0][0]} articles, not {articles}")
    writer = settings.writer_db_path
    held = sum(disk_bytes(path) for path in (writer, writer.with_name(writer.name + ".wal"), settings.db_path))
    return {"articles": articles, "writer_mib": writer.stat().st_size / MiB,
            "snapshot_mib": settings.db_path.stat().st_size / MiB, "disk_held_mib": held / MiB,
            "first_publish_s": first_s, "first_publish_cpu_s": first_cpu,
            "later_publish_s": later_s, "later_publish_cpu_s": later_cpu,
            "copied_mib": later.bytes_copied / MiB, "copy_mib_per_s": later.bytes_copied / MiB / later_s,
            "count_query_s": query_s, "rss_start_mib": rss_start,
            "peak_rss_mib": peak_rss_mib()}


def markdown(results: list[dict[str, float]]) -> str:
    """The table for the README."""
    lines = ["| articles | writer MiB | snapshot MiB | disk held MiB | first publish s (CPU) | later publish s (CPU) "
             "| copied MiB | MiB/s | count(*) s | peak RSS MiB (after imports) |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['articles']:,} | {r['writer_mib']:.0f} | {r['snapshot_mib']:.0f} | {r['disk_held_mib']:.0f} "
                     f"| {r['first_publish_s']:.2f} ({r['first_publish_cpu_s']:.2f}) "
                     f"| {r['later_publish_s']:.2f} ({r['later_publish_cpu_s']:.2f}) | {r['copied_mib']:.0f} "
                     f"| {r['copy_mib_per_s']:.0f} | {r['count_query_s']:.3f} | {r['peak_rss_mib']:.0f} ({r['rss_start_mib']:.0f}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="articles per measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsflow-publish-"))
    try:
        seeded = Settings.from_env(seeds_dir=PROJECT_ROOT / "seeds", db_path=work / "seed" / "news.duckdb",
                                   staging_dir=work / "seed" / "staging")
        ingest_folder(seeded)
        results = []
        for size in args.sizes:
            folder = work / str(size)
            settings = Settings.from_env(seeds_dir=seeded.seeds_dir, db_path=folder / "news.duckdb",
                                         staging_dir=folder / "staging")
            settings.writer_db_path.parent.mkdir(parents=True)
            shutil.copyfile(seeded.writer_db_path, settings.writer_db_path)
            articles, scale_s, _ = timed(lambda settings=settings, size=size: scale(settings, size))
            print(f"{articles} articles: writer scaled in {scale_s:.0f} s", flush=True)
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                results.append(pool.submit(measure_publish, settings, articles).result())
            shutil.rmtree(folder)
        print(json.dumps(results, indent=2) if args.json else markdown(results))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
