"""Shared fixtures.

Tests needing something a laptop may lack skip with a reason, and fail under NEWSFLOW_STRICT=1 (CI).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from newsfake import news_server, news_server_tls, own_server  # noqa: F401  (local news site fixtures, HTTP and HTTPS)

# Test helper modules whose asserts should explain a failure as a test's do (registered before a test imports them).
pytest.register_assert_rewrite("browser", "quality_runs")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = PROJECT_ROOT.parent / "shared"


def strict() -> bool:
    return os.environ.get("NEWSFLOW_STRICT") == "1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require(condition: bool, reason: str) -> None:
    """Skip when `condition` is false, or fail in strict mode, where every optional resource must be present."""
    if condition:
        return
    if strict():
        pytest.fail(f"NEWSFLOW_STRICT=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared data folder beside the checkout (gold files and corpora); absent on a user's fresh clone."""
    require(SHARED_DIR.is_dir(), f"{SHARED_DIR} (the shared test corpora) is not present")
    return SHARED_DIR


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return PROJECT_ROOT / "seeds"


# A DuckDB 1.x command-line tool, as analysts' tools lag DuckDB's newest major: the published file must open in it.
# The project installs it (pyproject.toml: duckdb-cli), so the `duckdb` commands the docs print run as printed.
DUCKDB_1X_CLI = "duckdb-cli==1.5.6"


@pytest.fixture(scope="session")
def duckdb_1x_cli() -> Path:
    """The `duckdb` binary of the PyPI `duckdb-cli` 1.5 package, in the project's environment."""
    binary = Path(sys.executable).parent / "duckdb"
    version = (
        subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
        if binary.is_file()
        else None
    )
    assert version is not None and version.stdout.startswith("v1.5."), (
        f"{DUCKDB_1X_CLI} is not installed: run make setup"
    )
    return binary


HOLD_READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM articles").fetchone()[0], flush=True)
sys.stdin.readline()  # hold the session open while the test loads more data
print(con.execute("SELECT count(*) FROM articles").fetchone()[0], flush=True)
"""


class HeldReader:
    """Another process holding a read-only DuckDB session on `db`, as an analyst's notebook or CLI does."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLD_READER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None  # stdout=PIPE
        self.articles_at_start = int(self.process.stdout.readline())

    def articles_at_end(self) -> int:
        """Query again on the same, still open session, then close it; fails if the session broke."""
        out, _ = self.process.communicate("\n", timeout=60)
        assert self.process.returncode == 0, "the reader's session broke"
        return int(out.strip())

    def __enter__(self) -> HeldReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait()


def project_airflow(home: Path) -> dict[str, str]:
    """What each Airflow process the tests start shares: this environment's commands, the project's DAGs and plugins."""
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A real Airflow home (SQLite metadata, set up by scripts/airflow-init.sh) and newsflow paths in a temp dir."""
    home = tmp_path_factory.mktemp("airflow_home")
    data = tmp_path_factory.mktemp("data")
    env = {
        **os.environ,
        **project_airflow(home),
        "NEWSFLOW_DB": str(data / "news.duckdb"),
        "NEWSFLOW_STAGING_DIR": str(data / "staging"),
        "NEWSFLOW_SEEDS_DIR": str(PROJECT_ROOT / "seeds"),
    }
    subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "airflow-init.sh")], env=env, check=True, timeout=600)
    return env


RUN_DAG = """
import datetime, importlib.util, json, pathlib, sys
sys.path.insert(0, str(pathlib.Path(sys.argv[1]).parent))  # as Airflow does for the dags folder
spec = importlib.util.spec_from_file_location("dag_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
when = {"logical_date": datetime.datetime.fromisoformat(sys.argv[3])} if len(sys.argv) > 3 else {}
run = getattr(module, sys.argv[2]).test(**when)
print("RESULT " + json.dumps({"state": str(run.state), "run_id": run.run_id}))
"""


def run_dag_test(
    env: dict[str, str], dag_file: str, dag_attribute: str, logical_date: str | None = None
) -> dict[str, str]:
    """`dag.test()` in a fresh interpreter with `env` (at `logical_date`, ISO, if given): the run's state and run_id,
    and what the process printed (the tasks' logs)."""
    import json

    path = PROJECT_ROOT / "dags" / dag_file
    out = subprocess.run(
        [sys.executable, "-c", RUN_DAG, str(path), dag_attribute, *filter(None, [logical_date])],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    result_lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and result_lines, out.stderr[-3000:]
    return {**json.loads(result_lines[-1].removeprefix("RESULT ")), "output": out.stdout + out.stderr}
