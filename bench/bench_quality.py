"""How long the quality gate adds to a micro-batch: GX import and context setup (once per process), the first
validation, and warm validations of a 100-article batch, Data Docs rebuild included. Budget: 5 s warm.

    .venv/bin/python bench/bench_quality.py [--articles 100] [--runs 10]

Runs on a temporary copy of gx/ and the suites; prints a table and writes bench/out/quality.json.
Wall seconds are what a run waits; CPU seconds (this process) are what a busy shared machine distorts less.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_ROOT), str(PROJECT_ROOT / "tests")]

from quality_batches import make_batch  # noqa: E402  (tests' batch builder: the normalizer's columns)

from pipelines.quality.context import open_context  # noqa: E402
from pipelines.quality.gate import validate_batch  # noqa: E402

BUDGET_SECONDS = 5.0
OUT = PROJECT_ROOT / "bench" / "out" / "quality.json"


def _timed(call) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        context_dir = Path(tmp) / "gx"
        shutil.copytree(PROJECT_ROOT / "gx", context_dir)
        shutil.copytree(PROJECT_ROOT / "schemas" / "expectations", Path(tmp) / "schemas" / "expectations")
        batch = make_batch(args.articles)
        setup = _timed(lambda: open_context(context_dir.resolve()))
        first = _timed(lambda: validate_batch(batch, context_dir, "bench-0"))
        warm = [_timed(lambda n=n: validate_batch(batch, context_dir, f"bench-{n}")) for n in range(1, args.runs + 1)]
    warm_wall = [wall for wall, _ in warm]
    rows = len(batch["articles"]) + len(batch["entity_mentions"]) + len(batch["quotes"]) + len(batch["entities"])
    report = {
        "articles": args.articles,
        "rows_validated": rows,
        "gx_import_and_context_s": round(setup[0], 3),
        "first_validation_s": round(first[0], 3),
        "cold_total_s": round(setup[0] + first[0], 3),
        "cold_total_cpu_s": round(setup[1] + first[1], 3),
        "warm_median_s": round(statistics.median(warm_wall), 3),
        "warm_max_s": round(max(warm_wall), 3),
        "warm_median_cpu_s": round(statistics.median(cpu for _, cpu in warm), 3),
        "warm_runs_s": [round(value, 3) for value in warm_wall],
        "budget_s": BUDGET_SECONDS,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    for key, value in report.items():
        print(f"{key:26} {value}")
    within = report["warm_median_s"] <= BUDGET_SECONDS
    print(f"warm validation {'within' if within else 'OVER'} the {BUDGET_SECONDS:.0f} s budget")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
