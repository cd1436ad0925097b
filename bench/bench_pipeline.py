"""Throughput and peak memory of the seed-folder pipeline against the floor of its unavoidable work.

A benchmark, not a test.

    python bench/bench_pipeline.py [--folder DIR] [--workers N]

The corpus is distinct real news: every distinct page of ../shared/corpora/news-html and the article
texts of ../shared/corpora/polnear-dev (or --folder). Nothing is copied twice.

Each measurement runs in a fresh process, so start-up and per-process peak memory are its own:
- the floor: trafilatura extraction of each page plus one spaCy parse (`nlp.pipe`, the pipeline's model),
  on one process, then split over N processes (`nlp.pipe(n_process=N)`); imports and model loading excluded;
- newsflow: stage (read, extract, normalize, parse, entities, quotes), validate and load + publish, into a
  fresh database, timed from the process start (imports and model loading included);
- the same folder ingested again by `newsflow ingest`: a batch with nothing new.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared" / "corpora"


def make_corpus(target: Path) -> str:
    """Distinct real pages into `target` (each content once); the seeds when ../shared is missing."""
    target.mkdir(parents=True)
    seen: set[str] = set()
    kinds = {"html": 0, "txt": 0}
    sources = [
        *sorted((SHARED / "news-html").rglob("*.html")),
        *sorted((SHARED / "polnear-dev" / "text").glob("*.txt")),
    ]
    if not sources:
        sources = sorted((PROJECT_ROOT / "seeds").iterdir())
    for path in sources:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            shutil.copy(path, target / f"{len(seen):04d}_{path.name}")
            kinds[path.suffix.lstrip(".")] += 1
    origin = (
        "../shared news-html + polnear-dev"
        if SHARED.is_dir()
        else "seeds/ only (../shared missing: not representative)"
    )
    return f"{len(seen)} distinct documents ({kinds['html']} HTML pages, {kinds['txt']} texts) from {origin}"


def peak_mib() -> dict[str, float]:
    """This process's peak RSS, and the largest of its finished child processes (the workers)."""
    return {
        "main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the workers, once their pool is closed)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def floor_text(path: Path) -> str:
    """The least any pipeline must do to a document before parsing it: extract a page's text, read a text file."""
    import trafilatura

    data = path.read_text(encoding="utf-8", errors="replace")
    return (trafilatura.extract(data) or "") if path.suffix == ".html" else data


def measure_floor(folder: Path, processes: int) -> dict[str, object]:
    import spacy

    from pipelines.config import Settings
    from pipelines.nlp.model import EXCLUDED_COMPONENTS

    nlp = spacy.load(Settings.from_env().spacy_model, exclude=list(EXCLUDED_COMPONENTS))
    paths = sorted(folder.iterdir())
    cpu_started = cpu_seconds()
    started = time.perf_counter()
    if processes == 1:
        texts = [floor_text(path) for path in paths]
    else:
        with get_context("fork").Pool(processes) as pool:
            texts = pool.map(floor_text, paths, chunksize=4)
    extracted, cpu_extracted = time.perf_counter(), cpu_seconds()
    for _ in nlp.pipe(texts, n_process=processes, batch_size=16):
        pass
    parsed, cpu_parsed = time.perf_counter(), cpu_seconds()
    return {
        "seconds": {"extraction": extracted - started, "spaCy parse": parsed - extracted},
        "cpu": {"extraction": cpu_extracted - cpu_started, "spaCy parse": cpu_parsed - cpu_extracted},
        "peak": peak_mib(),
    }


def measure_pipeline(folder: Path, work: Path, workers: int, process_start: float) -> dict[str, object]:
    """The CLI's `ingest_folder`, step by step, into a fresh database: timed from this process's start.

    As in the CLI, GX and datasketch are imported during the stage, while its workers parse.
    """
    from functools import partial

    from pipelines.config import Settings
    from pipelines.pipeline import (
        load_stages,
        new_run_id,
        stage_folder,
        validate_stages,
        warm_up_validate_and_load,
    )

    settings = Settings.from_env(
        seeds_dir=folder, db_path=work / "news.duckdb", staging_dir=work / "staging", workers=workers
    )
    imported, cpu_imported = time.time(), cpu_seconds()
    batch = stage_folder(settings, new_run_id("bench"), "bench", meanwhile=partial(warm_up_validate_and_load, settings))
    staged, cpu_staged = time.time(), cpu_seconds()
    validate_stages(settings, [batch.path])
    validated, cpu_validated = time.time(), cpu_seconds()
    counts = load_stages(settings, [batch.path])
    loaded, cpu_loaded = time.time(), cpu_seconds()
    steps = ["start-up (interpreter, imports)", "stage", "validate", "load + publish"]
    marks = [
        (process_start, 0.0),
        (imported, cpu_imported),
        (staged, cpu_staged),
        (validated, cpu_validated),
        (loaded, cpu_loaded),
    ]
    return {
        "seconds": {step: end[0] - begin[0] for step, begin, end in zip(steps, marks, marks[1:], strict=False)},
        "cpu": {step: end[1] - begin[1] for step, begin, end in zip(steps, marks, marks[1:], strict=False)},
        "articles": counts.articles_new,
        "peak": peak_mib(),
    }


def run_measurement(kind: str, folder: Path, work: Path, processes: int) -> dict[str, Any]:
    """One measurement in a fresh interpreter; its wall time from Popen to exit comes back as `wall`."""
    started = time.time()
    command = [
        sys.executable,
        __file__,
        "--measure",
        kind,
        "--folder",
        str(folder),
        "--work",
        str(work),
        "--workers",
        str(processes),
        "--started",
        repr(started),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=PROJECT_ROOT)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall": time.time() - started}


def ingest_again(folder: Path, work: Path, workers: int) -> dict[str, object]:
    """`newsflow ingest` over a folder it already loaded, wall time from the command's start."""
    started = time.time()
    env = {**os.environ, "NEWSFLOW_WORKERS": str(workers), "NEWSFLOW_STAGING_DIR": str(work / "staging")}
    newsflow = Path(sys.executable).with_name("newsflow")
    subprocess.run(
        [str(newsflow), "ingest", "--seeds", str(folder), "--db", str(work / "news.duckdb"), "--json"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
    )
    return {"wall": time.time() - started}


def row(name: str, docs: int, seconds: float, cpu: float | None = None, peak: dict[str, float] | None = None) -> str:
    main, worker = (f"{peak['main']:.0f}", f"{peak['worker']:.0f}" if peak["worker"] else "-") if peak else ("", "")
    cpu_cell = f"{cpu:.1f}" if cpu is not None else ""
    return f"| {name} | {docs} | {seconds:.1f} | {docs / seconds:.1f} | {cpu_cell} | {main} | {worker} |"


def report(corpus: str, docs: int, workers: int, results: dict[str, dict[str, Any]]) -> None:
    cpus = len(os.sched_getaffinity(0))
    print(f"corpus: {corpus}; {workers} worker processes on {cpus} CPUs\n")
    print("| step | docs | seconds | docs/s | CPU-s | peak RSS, main process (MiB) | peak RSS, largest worker (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    floors, floor_cpu = {}, {}
    for processes in sorted({1, workers}):
        floor = results[f"floor{processes}"]
        label = f"floor, {processes} process{'es' if processes > 1 else ''}"
        for step, value in floor["seconds"].items():
            print(row(f"{label}: {step}", docs, value, floor["cpu"][step]))
        floors[processes], floor_cpu[processes] = sum(floor["seconds"].values()), sum(floor["cpu"].values())
        print(row(f"**{label}**", docs, floors[processes], floor_cpu[processes], floor["peak"]))
    pipeline = results["pipeline"]
    for step, value in pipeline["seconds"].items():
        print(row(f"newsflow: {step}", docs, value, pipeline["cpu"][step]))
    end_to_end, cpu = float(pipeline["wall"]), sum(pipeline["cpu"].values())
    print(row("**newsflow ingest, end to end**", docs, end_to_end, cpu, pipeline["peak"]))
    print(row("newsflow ingest again, nothing new (end to end)", docs, float(results["again"]["wall"])))
    print(f"\n{pipeline['articles']} articles loaded")
    print(
        f"ratio, end to end / floor with {workers} processes: {floors[workers] / end_to_end:.2f} "
        f"(docs/s {docs / end_to_end:.1f} vs {docs / floors[workers]:.1f})"
    )
    print(
        f"CPU-s, floor with {workers} processes / newsflow: {floor_cpu[workers] / cpu:.2f} "
        f"({floor_cpu[workers]:.1f} vs {cpu:.1f})"
    )
    # The parse is the one step that must scale: when it does not, the machine's other CPUs were busy.
    parse = {processes: results[f"floor{processes}"]["seconds"]["spaCy parse"] for processes in floors}
    print(f"the floor's parse ran {parse[1] / parse[workers]:.2f}x faster on {workers} processes than on 1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="documents to ingest (default: distinct pages from ../shared)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--measure", choices=["floor", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure == "floor":
        print(json.dumps(measure_floor(args.folder, args.workers)))
        return
    if args.measure == "pipeline":
        print(json.dumps(measure_pipeline(args.folder, args.work, args.workers, args.started)), flush=True)
        os._exit(0)  # as `newsflow` leaves (pipelines.cli.main): no teardown of the loaded models
    work = Path(tempfile.mkdtemp(prefix="newsflow-bench-"))
    try:
        folder = args.folder
        corpus = f"{folder}"
        if folder is None:
            folder = work / "corpus"
            corpus = make_corpus(folder)
        docs = sum(1 for _ in folder.iterdir())
        results = {
            f"floor{processes}": run_measurement("floor", folder, work, processes)
            for processes in sorted({1, args.workers})
        }
        results["pipeline"] = run_measurement("pipeline", folder, work, args.workers)
        results["again"] = ingest_again(folder, work, args.workers)
        report(corpus, docs, args.workers, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
