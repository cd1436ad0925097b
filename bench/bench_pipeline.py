"""Throughput and peak memory per stage of the seed-folder pipeline (a benchmark, not a test).

    python bench/bench_pipeline.py [--copies 100] [--folder DIR]

Without --folder it copies seeds/ COPIES times into a temp folder (distinct file names, so every copy
is a separate input). Each stage runs twice: once timed, once under tracemalloc for its peak.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas  # noqa: F401  (pyarrow imports it on first use: keep that one-off cost out of the stage timings)

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.dedup import DedupConfig
from pipelines.nlp.annotate import annotate
from pipelines.nlp.entities import load_alias_rules
from pipelines.nlp.model import load_pipeline
from pipelines.pipeline import new_run_id, validate_stages
from pipelines.quality.verdict import apply_verdict
from pipelines.sources.folder import folder_source, list_folder, read_file
from pipelines.storage.load import load_batch
from pipelines.storage.staging import (
    Manifest,
    merge_rows,
    read_stage,
    stage_path,
    write_stage,
)
from pipelines.storage.store import Store
from pipelines.text.articles import build_articles
from pipelines.text.boilerplate import load_boilerplate_rules
from pipelines.text.language import language_detector


def make_corpus(seeds: Path, copies: int, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for copy in range(copies):
        for seed in sorted(seeds.iterdir()):
            shutil.copy(seed, target / f"{copy:04d}_{seed.name}")
    return target


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, seconds, peak MiB): timed without tracemalloc, then re-run under it for the peak."""
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsflow-bench-"))
    try:
        folder = args.folder or make_corpus(PROJECT_ROOT / "seeds", args.copies, work / "corpus")
        settings = Settings.from_env(seeds_dir=folder, db_path=work / "bench.duckdb", staging_dir=work / "staging")
        source = folder_source(folder)
        rules = load_boilerplate_rules(settings.boilerplate_file)
        detector = language_detector()
        run_id = new_run_id("bench")
        rows: list[tuple[str, int, float, float]] = []

        files = list_folder(folder)
        results, t, m = measure(lambda: [read_file(path, folder, source, settings) for path in files])
        rows.append(("read (list + decode + parse)", len(files), t, m))
        drafts = [draft for result in results for draft in result.drafts]
        (articles, rejections), t, m = measure(lambda: build_articles(drafts, rules, detector))
        rows.append(("extract + normalize", len(drafts), t, m))
        load_pipeline(settings.spacy_model)  # the model loads once per process; keep that out of the per-article figure
        annotations, t, m = measure(lambda: annotate(articles, settings))
        rows.append(("entities + quotes (spaCy)", len(articles), t, m))
        tables = {"sources": [source], "raw_documents": [r.raw for r in results], "articles": annotations.articles,
                  "quarantine": rejections, **annotations.tables()}
        manifest = Manifest(run_id, "bench", results[0].raw.fetched_at, source.uri)
        path, t, m = measure(lambda: write_stage(stage_path(settings.staging_dir, run_id), manifest, tables))
        rows.append(("stage (Parquet)", len(articles), t, m))
        started = time.perf_counter()
        validate_stages(settings, [path])  # the first call pays GX's import and context setup: reported apart
        gx_cold = time.perf_counter() - started
        validation, t, m = measure(lambda: validate_stages(settings, [path]))
        rows.append(("validate (Great Expectations)", len(articles), t, m))

        def load() -> Any:
            settings.db_path.unlink(missing_ok=True)
            with Store.open(settings.db_path, settings.schemas_dir) as store:
                stage = read_stage(path)
                rows = apply_verdict(merge_rows([stage]), validation.rejected)
                return load_batch(store, stage.manifest, rows, {}, validation, DedupConfig(),
                                  load_alias_rules(settings.alias_file))

        counts, t, m = measure(load)
        rows.append(("load + dedup (DuckDB, one transaction)", counts.articles_new, t, m))
        total = sum(row[2] for row in rows)
        rows.append(("end to end", len(files), total, max(row[3] for row in rows)))

        print(f"{len(files)} input files -> {counts.articles_new} articles")
        print(f"first validation in a process (GX import and context setup included): {gx_cold:.1f} s")
        print(f"{'stage':40} {'docs':>6} {'seconds':>8} {'docs/s':>9} {'peak MiB':>9}")
        for name, docs, seconds, peak in rows:
            print(f"{name:40} {docs:6d} {seconds:8.2f} {docs / seconds:9.1f} {peak:9.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
