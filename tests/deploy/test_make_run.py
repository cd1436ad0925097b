"""`make run` on a fresh copy of the project, as a new user types it: install, Airflow init, the DAG, a summary."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from pipelines.config import PROJECT_ROOT

# What a fresh clone does not have: environments, Airflow's home, data, caches.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", ".tools", ".airflow", "data", "__pycache__", ".pytest_cache", ".ruff_cache", "gx/uncommitted"
)


@pytest.mark.slow
def test_make_run_ingests_the_seeds_and_says_how_to_query(tmp_path: Path) -> None:
    clone = tmp_path / "newsflow"
    shutil.copytree(PROJECT_ROOT, clone, ignore=NOT_IN_A_CLONE)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NEWSFLOW_", "AIRFLOW", "VIRTUAL_ENV", "UV_PROJECT"))
    }
    local_uv = PROJECT_ROOT / ".tools" / "bin"
    if (local_uv / "uv").is_file():  # the uv this checkout's `make` installed; without it make installs its own
        env["PATH"] = f"{local_uv}{os.pathsep}{env['PATH']}"
    run = subprocess.run(["make", "run"], cwd=clone, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]

    counts = dict(re.findall(r"│ (\w+)\s+│\s+(\d+) │", run.stdout))
    assert counts["articles"] == "5" and int(counts["entities"]) > 0 and int(counts["quotes"]) > 0
    published = clone / "data" / "news.duckdb"
    # The two commands it suggests run as printed, from the clone, in the shell that ran make.
    suggested = [line.strip() for line in run.stdout.splitlines() if line.startswith("  ") and "SELECT" in line]
    assert [command.split()[0] for command in suggested] == [".venv/bin/duckdb", ".venv/bin/newsflow"], run.stdout[
        -2000:
    ]
    for command in suggested:
        ran = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0 and "MOSCOW" in ran.stdout, (command, ran.stdout, ran.stderr)
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (5,)
    assert con.execute("SELECT name FROM entities WHERE name LIKE '%Lavrov'").fetchall() == [("Sergey Lavrov",)]
    con.close()
