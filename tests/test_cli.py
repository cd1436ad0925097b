"""The `newsflow` console script, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NEWSFLOW = [sys.executable, "-m", "pipelines.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NEWSFLOW, *args], capture_output=True, text=True, timeout=600)


def test_ingest_twice_gives_identical_counts(tmp_path: Path, seeds_dir: Path) -> None:
    db = tmp_path / "news.duckdb"
    first = run("ingest", "--seeds", str(seeds_dir), "--db", str(db), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["articles_new"] == 5
    counts = json.loads(run("stats", "--db", str(db), "--json").stdout)
    second = run("ingest", "--seeds", str(seeds_dir), "--db", str(db), "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) | {"run_id": None} == json.loads(first.stdout) | {
        "run_id": None, "articles_new": 0, "unchanged": 5}
    again = json.loads(run("stats", "--db", str(db), "--json").stdout)
    assert again == counts | {"ingest_runs": counts["ingest_runs"] + 1}
    assert counts["articles"] == 5 and counts["raw_documents"] == 5

    table = run("stats", "--db", str(db))
    assert "articles" in table.stdout and str(db) in table.stdout and "SELECT" in table.stdout
    rows = json.loads(run("query", "SELECT count(*) AS n FROM articles WHERE title IS NULL", "--db", str(db), "--json").stdout)
    assert rows == [{"n": 2}]


def test_job_failure_is_one_line_and_non_zero(tmp_path: Path) -> None:
    result = run("ingest", "--seeds", str(tmp_path / "missing"), "--db", str(tmp_path / "x.duckdb"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("newsflow: error: seed folder")
    assert run("stats", "--db", str(tmp_path / "none.duckdb")).returncode == 1
