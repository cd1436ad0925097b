"""The docs run: every SQL example and every `newsflow`/`duckdb` command in the README and docs/, as printed.

Each SQL statement must return at least one row, in DuckDB 2 and in the DuckDB 1.x CLI the project installs
(the format the published file is written in is for such tools). Commands run from a directory laid out like
a checkout after `make run`, with no environment activated: a bare `newsflow` would not be found there.
Commands the docs show that this file does not run must be covered by a test named in COVERED_ELSEWHERE, so
a new command cannot go untested. Every link between the pages must lead somewhere.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.config import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
PAGES = [README, *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
# The programs the docs run, as a fresh clone has them after `make run`.
RUN_HERE = (".venv/bin/newsflow", ".venv/bin/duckdb")
# Commands shown in the docs that other tests run, and where.
COVERED_ELSEWHERE = {
    "make run": "tests/deploy/test_make_run.py",
    "make test": ".ci/run (CI runs exactly this)",
    "make lint": ".ci/run (CI runs it before make test)",
    "make test-fast": "the suite itself: make test runs these tests and the slow ones",
    "make airflow": "tests/deploy/test_embedded_airflow.py (the Makefile's own target)",
    "export NEWSFLOW_": "tests/deploy/test_embedded_airflow.py (settings the tasks inherit)",
    "source .venv/bin/activate": "tests/deploy/test_embedded_airflow.py (the environment's airflow)",
    "export AIRFLOW_HOME=": "tests/deploy/test_embedded_airflow.py",
    "airflow dags": "tests/deploy/test_embedded_airflow.py (unpause, list)",
    "cat .airflow/simple_auth_manager_passwords.json.generated": "tests/deploy/test_embedded_airflow.py",
    "curl -s -X POST http://localhost:8080/auth/token": "tests/deploy/test_embedded_airflow.py (the token)",
    "cp .env.example .env": "tests/deploy/test_compose.py (the example file)",
    "docker compose up": "tests/deploy/test_compose.py (docker compose config)",
    ".venv/bin/newsflow eval quotes --polnear ../shared/corpora/polnear-dev": (
        "tests/evaluation/test_accuracy_figures.py (needs ../shared; checks the README's figures)"
    ),
    ".venv/bin/newsflow eval entities --gold ../shared/corpora/gum-news": (
        "tests/evaluation/test_accuracy_figures.py (needs ../shared; checks the README's figures)"
    ),
    ".venv/bin/newsflow eval events --gold ../shared/corpora/ecbplus-events-dev": (
        "tests/evaluation/test_accuracy_figures.py (needs ../shared; checks the README's figures)"
    ),
    ".venv/bin/newsflow feeds add https://www.example.com/": (
        "tests/sources/test_discovery.py (a real site on 127.0.0.1)"
    ),
}


def blocks(lang: str, pages: list[Path] = PAGES) -> list[str]:
    return [
        match["body"]
        for page in pages
        for match in FENCE.finditer(page.read_text(encoding="utf-8"))
        if match["lang"] == lang
    ]


def sql_statements() -> list[str]:
    statements = []
    for body in blocks("sql"):
        code = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("--"))
        statements += [statement.strip() for statement in code.split(";") if statement.strip()]
    return statements


def shell_commands(pages: list[Path] = PAGES) -> list[str]:
    """Each command line of the bash blocks, without its trailing comment."""
    commands = []
    for body in blocks("bash", pages):
        for line in body.replace("\\\n", " ").splitlines():  # a backslash continues the command
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def covered_elsewhere(command: str) -> bool:
    return any(command.startswith(prefix) for prefix in COVERED_ELSEWHERE)


def runs_here(command: str) -> bool:
    return command.split()[0] in RUN_HERE and not covered_elsewhere(command)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path, duckdb_1x_cli: Path) -> dict[str, str]:
    """A working directory laid out like a checkout after `make run`: the environment in `.venv`, the seeds
    ingested, data/news.duckdb published, an empty feeds.yaml, the GX project; nothing on the PATH."""
    root = tmp_path_factory.mktemp("readme_project")
    (root / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (root / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    shutil.copytree(PROJECT_ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copytree(PROJECT_ROOT / "schemas" / "expectations", root / "schemas" / "expectations")  # the GX suites
    bare_path = os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if Path(d) != Path(sys.executable).parent
    )
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env.update(
        {
            "NEWSFLOW_DB": str(root / "data" / "news.duckdb"),
            "NEWSFLOW_SEEDS_DIR": str(seeds_dir),
            "NEWSFLOW_STAGING_DIR": str(root / "data" / "staging"),
            "NEWSFLOW_GX_DIR": str(root / "gx"),
            "NEWSFLOW_FEEDS": str(root / "feeds.yaml"),
            "PATH": bare_path,
        }
    )
    ingest = subprocess.run(
        [".venv/bin/newsflow", "ingest"], cwd=root, env=env, capture_output=True, text=True, timeout=900
    )
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    return {"cwd": str(root), **env}


def test_the_docs_have_examples_to_run() -> None:
    assert len(sql_statements()) >= 8
    assert sum(runs_here(command) for command in shell_commands()) >= 6
    assert sum(runs_here(command) for command in shell_commands([README])) >= 4  # the README's tour runs too


def test_every_other_command_is_covered_elsewhere_and_none_needs_an_activated_environment() -> None:
    uncovered = [command for command in shell_commands() if not runs_here(command) and not covered_elsewhere(command)]
    assert not uncovered, f"commands in the docs no test runs: {uncovered}"
    bare = [command for command in shell_commands() if command.split()[0] in ("newsflow", "duckdb")]
    assert not bare, f"not on the PATH of a fresh clone, write .venv/bin/…: {bare}"


def headings(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings."""
    titles = re.findall(r"(?m)^#+ (.+)$", FENCE.sub("", page.read_text(encoding="utf-8")))
    return {re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-") for title in titles}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_between_the_pages_leads_somewhere(page: Path) -> None:
    for match in LINK.finditer(FENCE.sub("", page.read_text(encoding="utf-8"))):
        target = match["target"]
        if re.match(r"^[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        found = (page.parent / path).resolve() if path else page
        assert found.exists(), f"{page.name}: {target}"
        if anchor:
            assert anchor in headings(found), f"{page.name}: {target}: no such heading"


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
    out = subprocess.run(
        [str(duckdb_1x_cli), "-readonly", "-json", project["NEWSFLOW_DB"], statement],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout), f"no rows in DuckDB 1.x: {statement}"


@pytest.mark.parametrize("command", [c for c in shell_commands() if runs_here(c)], ids=lambda c: c[:60])
def test_readme_command_runs(project: dict[str, str], command: str) -> None:
    env = {key: value for key, value in project.items() if key != "cwd"}
    out = subprocess.run(
        shlex.split(command),
        cwd=project["cwd"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip(), f"no output from {command}"
