"""The README runs: every SQL example and every `newsflow`/`duckdb` command in it, against the seeds' published database.

Each SQL statement must return at least one row, in DuckDB 2 and in the DuckDB 1.x CLI from PyPI (the
format the published file is written in is for those tools). Commands the README shows that this file
does not run must be covered by a test named in COVERED_ELSEWHERE, so a new command cannot go untested.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.config import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
# Commands shown in the README that other tests run, and where.
COVERED_ELSEWHERE = {
    "make run": "tests/deploy/test_make_run.py",
    "make test": ".ci/run (CI runs exactly this)",
    "make airflow": "tests/deploy/test_embedded_airflow.py (the Makefile's own target)",
    "export NEWSFLOW_": "tests/deploy/test_embedded_airflow.py (settings the tasks inherit)",
    "source .venv/bin/activate": "tests/deploy/test_embedded_airflow.py (the environment's airflow)",
    "export AIRFLOW_HOME=": "tests/deploy/test_embedded_airflow.py",
    "airflow dags": "tests/deploy/test_embedded_airflow.py (unpause, list)",
    "cat .airflow/simple_auth_manager_passwords.json.generated": "tests/deploy/test_embedded_airflow.py",
    "curl -s -X POST http://localhost:8080/auth/token": "tests/deploy/test_embedded_airflow.py (the token)",
    "cp .env.example .env": "tests/deploy/test_compose.py (the example file)",
    "docker compose up": "tests/deploy/test_compose.py (docker compose config)",
}


def blocks(lang: str) -> list[str]:
    return [match["body"] for match in FENCE.finditer(README.read_text(encoding="utf-8")) if match["lang"] == lang]


def sql_statements() -> list[str]:
    statements = []
    for body in blocks("sql"):
        code = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("--"))
        statements += [statement.strip() for statement in code.split(";") if statement.strip()]
    return statements


def shell_commands() -> list[str]:
    """Each command line of the bash blocks, without its trailing comment."""
    commands = []
    for body in blocks("bash"):
        for line in body.replace("\\\n", " ").splitlines():  # a backslash continues the command
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def runs_here(command: str) -> bool:
    return command.split()[0] in ("newsflow", "duckdb")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path, duckdb_1x_cli: Path) -> dict[str, str]:
    """A working directory laid out like a checkout after `make run`: the seeds ingested, data/news.duckdb published."""
    root = tmp_path_factory.mktemp("readme_project")
    env = {**os.environ, "NEWSFLOW_DB": str(root / "data" / "news.duckdb"), "NEWSFLOW_SEEDS_DIR": str(seeds_dir),
           "NEWSFLOW_STAGING_DIR": str(root / "data" / "staging"),
           "PATH": os.pathsep.join([str(duckdb_1x_cli.parent), str(Path(sys.executable).parent), os.environ["PATH"]])}
    ingest = subprocess.run(["newsflow", "ingest"], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    return {"cwd": str(root), **env}


def test_the_readme_has_examples_to_run() -> None:
    assert len(sql_statements()) >= 8
    assert sum(runs_here(command) for command in shell_commands()) >= 2


def test_every_other_readme_command_is_covered_elsewhere() -> None:
    others = [command for command in shell_commands() if not runs_here(command)]
    uncovered = [command for command in others if not any(command.startswith(prefix) for prefix in COVERED_ELSEWHERE)]
    assert not uncovered, f"README commands no test runs: {uncovered}"


@pytest.mark.parametrize("statement", sql_statements(), ids=lambda sql: " ".join(sql.split())[:60])
def test_readme_sql_returns_rows(project: dict[str, str], statement: str) -> None:
    con = duckdb.connect(project["NEWSFLOW_DB"], read_only=True)
    try:
        rows = con.execute(statement).fetchall()
    finally:
        con.close()
    assert rows, f"no rows on the seeds: {statement}"


@pytest.mark.parametrize("statement", sql_statements(), ids=lambda sql: " ".join(sql.split())[:60])
def test_readme_sql_runs_in_the_duckdb_1x_cli(project: dict[str, str], duckdb_1x_cli: Path, statement: str) -> None:
    out = subprocess.run([str(duckdb_1x_cli), "-readonly", "-json", project["NEWSFLOW_DB"], statement],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout), f"no rows in DuckDB 1.x: {statement}"


@pytest.mark.parametrize("command", [c for c in shell_commands() if runs_here(c)], ids=lambda c: c[:60])
def test_readme_command_runs(project: dict[str, str], command: str) -> None:
    env = {key: value for key, value in project.items() if key != "cwd"}
    out = subprocess.run(shlex.split(command), cwd=project["cwd"], env=env, capture_output=True, text=True,
                         timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip(), f"no output from {command}"
