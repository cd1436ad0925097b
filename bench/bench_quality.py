"""What the quality gate costs a micro-batch, phase by phase: GX import, context, suite loading (once per
process), then per batch the suite runs and the Data Docs build, first and warm.

    .venv/bin/python bench/bench_quality.py [--articles 100] [--runs 5] [--folder DIR ...] [--history N]

Batches: an empty one (nothing new: it must not import GX), `--articles` synthetic articles
(tests/quality_batches.py), the seeds/ folder and each `--folder` (every file in it), the last two staged
for real by `pipelines.pipeline.stage_folder` into a temporary staging dir. Each batch is measured in a
fresh process, so each pays GX's import as `newsflow` or an Airflow task does. Runs on a temporary copy
of gx/ and the suites; prints a table and writes bench/out/quality.json. Wall seconds are what a run
waits; CPU seconds (this process) are what a busy shared machine distorts less. `--history N` first
stores N validation results with their pages (copies of one real run's, five minutes apart), what a
feed polled for days leaves behind: the Data Docs build must not grow with it.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import logging
import math
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_ROOT), str(PROJECT_ROOT / "tests")]

from pipelines.quality import docs, gate
from pipelines.quality.context import GX_MODULE, open_context

OUT = PROJECT_ROOT / "bench" / "out" / "quality.json"
RUN_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"  # GX's folder name for a run's start time
PHASES = ("import", "context", "suites", "first_runs", "first_docs", "warm_runs", "warm_docs")
# first_runs: a fresh process's first validation (suite runs and verdict), GX's import and context included.


def _timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """The call's result, its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _project(tmp: Path, history: Path | None = None) -> Path:
    """A copy of gx/, the suites and a prefilled history's data/, so the runs' results and docs stay in `tmp`."""
    shutil.copytree(PROJECT_ROOT / "gx", tmp / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copytree(PROJECT_ROOT / "schemas" / "expectations", tmp / "schemas" / "expectations")
    if history:
        shutil.copytree(history / "data", tmp / "data")
    return (tmp / "gx").resolve()


def prefill(project: Path, results: int) -> None:
    """Store `results` validation results and their pages under `project`: one real run's, copied to older runs."""
    from quality_batches import make_batch

    context_dir = _project(project)
    gate.validate_batch(make_batch(10), context_dir, "history-0")
    seed = docs.stored_results(context_dir)
    run_time = datetime.strptime(seed[0].parent.name, RUN_TIME_FORMAT)
    for run in range(1, math.ceil(results / len(seed))):
        older = (run_time - timedelta(minutes=5 * run)).strftime(RUN_TIME_FORMAT)
        for original in [*seed, *(docs.result_page(context_dir, result) for result in seed)]:
            copy = original.parents[2] / f"history-{run}" / older / original.name
            copy.parent.mkdir(parents=True)
            shutil.copyfile(original, copy)


def _validate(frames: dict, context_dir: Path, run_id: str) -> dict[str, tuple[float, float]]:
    """One validate_batch, split into the Data Docs build and the rest (the suite runs and the verdict)."""
    docs: list[tuple[float, float]] = []
    build = gate.build_result_docs

    @functools.wraps(build)
    def timed_build(*args: Any, **kwargs: Any) -> Any:
        pages, wall, cpu = _timed(lambda: build(*args, **kwargs))
        docs.append((wall, cpu))
        return pages

    gate.build_result_docs = timed_build
    try:
        _, wall, cpu = _timed(lambda: gate.validate_batch(frames, context_dir, run_id))
    finally:
        gate.build_result_docs = build
    docs_wall, docs_cpu = docs[0] if docs else (0.0, 0.0)
    return {"runs": (wall - docs_wall, cpu - docs_cpu), "docs": (docs_wall, docs_cpu)}


def measure(frames_file: Path, runs: int, history: Path | None) -> dict[str, Any]:
    """In a fresh process: a first validation (it imports GX only if the batch needs it), then warm ones."""
    frames = pickle.loads(frames_file.read_bytes())
    with tempfile.TemporaryDirectory() as tmp:
        context_dir = _project(Path(tmp), history)
        first = _validate(frames, context_dir, "bench-0")
        needs_gx = GX_MODULE in sys.modules
        phases: dict[str, tuple[float, ...]] = {"first_runs": first["runs"], "first_docs": first["docs"]}
        warm = [_validate(frames, context_dir, f"bench-{n}") for n in range(1, runs + 1)]
    for part in ("runs", "docs"):
        phases[f"warm_{part}"] = tuple(statistics.median(run[part][i] for run in warm) for i in (0, 1))
    rows = {table: len(frame) for table, frame in frames.items()}
    return {"rows": rows, "gx_imported_by_validation": needs_gx, "phases": phases}


def cold_phases() -> dict[str, tuple[float, float]]:
    """In a fresh process: GX's import, the context and the suites, what the first batch that needs GX pays."""
    logging.getLogger(GX_MODULE).setLevel(logging.WARNING)  # as open_context does before its import
    with tempfile.TemporaryDirectory() as tmp:
        context_dir = _project(Path(tmp))
        steps = {
            "import": lambda: importlib.import_module(GX_MODULE),
            "context": lambda: open_context(context_dir),
            "suites": lambda: [
                gate._suite_meta(context_dir, name) for name in (*gate.VALIDATED_TABLES, gate.BATCH_SUITE)
            ],
        }
        return {phase: _timed(step)[1:] for phase, step in steps.items()}


def _child(*args: str) -> Any:
    """Run this script in a fresh process and return the JSON it prints."""
    run = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.splitlines()[-1])


def _staged_frames(folder: Path, tmp: Path) -> dict:
    """The folder staged as `newsflow ingest` stages it, read back as the frames validate_stages passes the gate."""
    from pipelines.config import Settings
    from pipelines.pipeline import stage_folder
    from pipelines.storage.staging import merge_rows, read_stage

    settings = Settings.from_env(seeds_dir=folder, staging_dir=tmp / "staging", db_path=tmp / "db" / "news.duckdb")
    batch = stage_folder(settings, f"bench-{folder.name}", "bench")
    return gate.staged_frames(merge_rows([read_stage(batch.path)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100, help="synthetic articles in the synthetic batch")
    parser.add_argument("--runs", type=int, default=5, help="warm validations per batch")
    parser.add_argument("--folder", type=Path, action="append", default=[], help="also stage and validate this folder")
    parser.add_argument("--history", type=int, default=0, help="validation results stored before the first batch")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child process: a pickled batch
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)  # child process: GX's set-up
    parser.add_argument("--prefill", type=Path, help=argparse.SUPPRESS)  # child process: the history's project
    parser.add_argument(
        "--history-project", type=Path, help=argparse.SUPPRESS
    )  # child process: where --prefill left it
    args = parser.parse_args()
    if args.prefill:
        prefill(args.prefill, args.history)
        print(json.dumps(len(docs.stored_results(args.prefill / "gx"))))
        return 0
    if args.measure or args.cold:
        print(json.dumps(measure(args.measure, args.runs, args.history_project) if args.measure else cold_phases()))
        return 0
    from quality_batches import make_batch

    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        history = []
        if args.history:
            project = Path(tmp) / "history"
            prefilled = _child("--prefill", str(project), "--history", str(args.history))
            print(f"stored validation results before the first batch: {prefilled}")
            history = ["--history-project", str(project)]
        batches = {
            "empty": lambda: gate.staged_frames({}),
            f"synthetic_{args.articles}": lambda: make_batch(args.articles),
        }
        for folder in [PROJECT_ROOT / "seeds", *args.folder]:
            batches[f"folder_{folder.name}"] = functools.partial(
                _staged_frames, folder.resolve(), Path(tmp) / folder.name
            )
        for name, build in batches.items():
            frames_file = Path(tmp) / f"{name}.pickle"
            frames_file.write_bytes(pickle.dumps(build()))
            result = _child("--measure", str(frames_file), "--runs", str(args.runs), *history)
            if result["gx_imported_by_validation"]:
                result["phases"] = {**_child("--cold"), **result["phases"]}
            report[name] = {"history": args.history, **result}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'batch':22} {'rows':>6} {'GX':>4}  " + "  ".join(f"{phase:>15}" for phase in PHASES))
    print(f"{'':22} {'':>6} {'':>4}  " + "  ".join(f"{'wall / cpu s':>15}" for _ in PHASES))
    for name, result in report.items():
        cells = [
            f"{result['phases'][phase][0]:6.2f} / {result['phases'][phase][1]:5.2f}"
            if phase in result["phases"]
            else f"{'-':>15}"
            for phase in PHASES
        ]
        gx = "yes" if result["gx_imported_by_validation"] else "no"
        print(f"{name:22} {sum(result['rows'].values()):6d} {gx:>4}  " + "  ".join(cells))
    print("first_runs includes GX's import and context when GX is needed; '-': not paid (GX never imported)")
    if args.history > docs.KEPT_RESULTS:
        print(f"first_docs includes archiving all but the newest {docs.KEPT_RESULTS} stored results, once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
