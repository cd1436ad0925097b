"""Scale-out numbers: the parallel stage per worker process, and the single DuckDB writer (a benchmark, not a test).

    python bench/bench_scaleout.py [--copies 100] [--workers 1 2] [--json]

The seeds are copied COPIES times into a temp folder (distinct names: every copy is its own input). For each
worker count W, W processes each run `stage_folder` on one of W shards at the same time, as W Celery workers
run the mapped `stage` tasks; the time counted is inside the processes, after their imports and model
warm-up, so it is the work a worker does per task, not Airflow's start-up. Then `load_stages`, what the
`load` task runs in pool `duckdb`, loads all shards of the largest run into a new DuckDB file, and the
rows it wrote per second are the ceiling of the whole deployment, however many workers stage.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from pathlib import Path

from pipelines.config import PROJECT_ROOT, Settings


def make_corpus(seeds: Path, copies: int, target: Path) -> Path:
    """The seeds copied `copies` times into `target`, under distinct names: every copy is its own input."""
    target.mkdir(parents=True, exist_ok=True)
    for copy in range(copies):
        for seed in sorted(seeds.iterdir()):
            shutil.copy(seed, target / f"{copy:04d}_{seed.name}")
    return target


def _stage_worker(settings: Settings, run_id: str, shard: int, shards: int, start, out) -> None:
    """One 'Celery worker': warm up (imports, language model), wait for the others, stage one shard."""
    import pandas  # noqa: F401  (pyarrow's one-off import cost stays out of the timing, as in bench_pipeline)

    from pipelines.pipeline import stage_folder
    from pipelines.text.language import language_detector

    language_detector()
    start.wait()
    cpu = time.process_time()
    began = time.perf_counter()
    batch = stage_folder(settings, run_id, "bench", shard, shards)
    ended = time.perf_counter()
    out.put(
        {
            "shard": shard,
            "docs": batch.inputs,
            "articles": batch.articles,
            "began": began,
            "ended": ended,
            "path": str(batch.path),
            "cpu_s": time.process_time() - cpu,
        }
    )


def stage_parallel(settings: Settings, workers: int, run_id: str) -> dict:
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_stage_worker, args=(settings, run_id, shard, workers, start, out))
        for shard in range(workers)
    ]
    for proc in procs:
        proc.start()
    start.wait()
    results = [out.get(timeout=1800) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    wall = max(r["ended"] for r in results) - min(r["began"] for r in results)
    docs = sum(r["docs"] for r in results)
    per_worker = [r["docs"] / (r["ended"] - r["began"]) for r in results]
    cpu_s = sum(r["cpu_s"] for r in results)
    return {
        "workers": workers,
        "docs": docs,
        "wall_s": wall,
        "docs_per_s": docs / wall,
        "per_worker_docs_per_s": sum(per_worker) / len(per_worker),
        "cpu_s": cpu_s,
        "docs_per_cpu_s": docs / cpu_s,
        "paths": [r["path"] for r in sorted(results, key=lambda r: r["shard"])],
    }


def load(settings: Settings, paths: list[str]) -> dict:
    """`load_stages` into a database that already exists (its migrations applied once, as after the first run)."""
    from pipelines.pipeline import load_stages, table_counts
    from pipelines.storage.publish import open_writer

    began = time.perf_counter()
    with open_writer(settings):
        pass
    create_s = time.perf_counter() - began
    cpu = time.process_time()
    began = time.perf_counter()
    counts = load_stages(settings, [Path(p) for p in paths])
    seconds = time.perf_counter() - began
    cpu_s = time.process_time() - cpu
    rows = {name: n for name, n in table_counts(settings).items() if n}
    written = sum(rows.values())
    return {
        "seconds": seconds,
        "cpu_s": cpu_s,
        "create_db_s": create_s,
        "db_mib": settings.writer_db_path.stat().st_size / 2**20,
        "articles": counts.articles_new,
        "rows": written,
        "tables": rows,
        "articles_per_s": counts.articles_new / seconds,
        "rows_per_s": written / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--load-repeats", type=int, default=3, help="loads of the same stages (the median is shown)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="newsflow-scaleout-"))
    try:
        folder = make_corpus(PROJECT_ROOT / "seeds", args.copies, work / "corpus")
        stages = []
        for workers in args.workers:
            settings = Settings.from_env(
                seeds_dir=folder, db_path=work / f"w{workers}.duckdb", staging_dir=work / f"staging{workers}"
            )
            stages.append((settings, stage_parallel(settings, workers, f"bench__w{workers}")))
        settings, last = stages[-1]
        from pipelines.pipeline import validate_stages

        validate_stages(settings, [Path(path) for path in last["paths"]])  # the load refuses an unvalidated stage
        loads = []
        for attempt in range(args.load_repeats):  # each into a new database, from a copy of the same stages
            paths = []
            for path in last["paths"]:
                copy = work / f"load{attempt}" / Path(path).name
                shutil.copytree(path, copy)
                paths.append(str(copy))
            db = work / f"load{attempt}.duckdb"
            loads.append(
                load(Settings.from_env(seeds_dir=folder, db_path=db, staging_dir=work / f"load{attempt}"), paths)
            )
        loaded = sorted(loads, key=lambda r: r["seconds"])[len(loads) // 2]  # the median
        loaded["all_seconds"] = [round(r["seconds"], 2) for r in loads]
        report = {
            "cores": os.cpu_count(),
            "load_average_before": load_before,
            "docs": last["docs"],
            "stage": [{k: v for k, v in s.items() if k != "paths"} for _, s in stages],
            "load": loaded,
        }
        if args.json:
            print(json.dumps(report, indent=2))
            return
        print(f"{last['docs']} input files, {os.cpu_count()} cores")
        print(f"load average before: {load_before:.2f} (other processes share the cores: see CPU time)")
        print(f"{'stage workers':>13} {'wall s':>8} {'docs/s':>8} {'docs/s per worker':>18} {'docs per CPU-s':>15}")
        for _, s in stages:
            print(
                f"{s['workers']:13d} {s['wall_s']:8.2f} {s['docs_per_s']:8.1f} {s['per_worker_docs_per_s']:18.1f}"
                f" {s['docs_per_cpu_s']:15.1f}"
            )
        print(
            f"load (pool duckdb, one transaction), median of {loaded['all_seconds']} s: "
            f"{loaded['articles']} articles, {loaded['rows']} rows in "
            f"{loaded['seconds']:.2f}s ({loaded['cpu_s']:.2f} CPU-s) = {loaded['articles_per_s']:.0f} articles/s, "
            f"{loaded['rows_per_s']:.0f} rows/s"
        )
        print(f"  rows per table: {loaded['tables']}")
        print(
            f"  publishing included (database {loaded['db_mib']:.1f} MiB, see bench_publish.py); "
            f"creating the database (first run only, not counted): {loaded['create_db_s']:.2f}s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
