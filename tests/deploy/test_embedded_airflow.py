"""`make airflow` as a newcomer runs it: the Makefile's own target, the REST API, the README's CLI, then Ctrl-C.

The `airflow` target runs (scripts/airflow-init.sh, then `airflow standalone`) with a temp AIRFLOW_HOME, data
folder and free ports given on make's command line, as real processes. Then: the API reports every component
healthy; the admin password file exists and its password buys a token at /auth/token; both DAGs are listed
and paused; `airflow dags unpause feed_ingest` from another shell (only AIRFLOW_HOME set) unpauses it, and its
first run polls a real feed with two items (the local news site on 127.0.0.1) and succeeds, so tasks reach the
execution API on the port make was given and the items are in the published file. Neither the task logs nor
Airflow's own output may hold an error line: a successful run logs none (reading the mapped `poll` results
once asked the API for one past the end, which the task's supervisor logged as "XCom not found"). Ctrl-C
(SIGINT to make's process group, as a terminal sends it) must stop every process. The output must prove the
API server started, on this machine only, and carry none of the warnings the embedded settings prevent:
SimpleAuthManager's "looks like production" (API bound to 0.0.0.0), PyJWT's short-HMAC-key warning (Airflow's
16-byte default keys; scripts/airflow-init.sh writes 64-byte ones) and the task API client's retries (5 s timeout).
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import duckdb
import pytest
from conftest import PROJECT_ROOT, free_port, require
from newsfake import NewsFake

pytestmark = pytest.mark.slow

AIRFLOW = PROJECT_ROOT / ".venv" / "bin" / "airflow"  # what the Makefile puts first on PATH
DAG_IDS = {"feed_ingest", "news_ingest"}
START_BUDGET_S = 600  # bounds on waiting for a wedged process, not speed checks (a loaded 2-core box: 5 min)
STOP_BUDGET_S = 60
FIXED_WARNINGS = (
    "deployment shape looks like production",
    "InsecureKeyLengthWarning",
    "The HMAC key is",
    "Starting call to 'airflow.sdk.api.client.Client.request'",
)
KEY_OPTIONS = (("api", "secret_key"), ("api_auth", "jwt_secret"))
ERROR_MARKS = ("[error", '"level":"error"', '"level": "error"', "XCom not found")  # console and JSON log lines
FEED = "embedded.xml"
T = TypeVar("T")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _user_env() -> dict[str, str]:
    """A shell without this checkout's Airflow or newsflow settings (nor an outer make's), output unbuffered
    as on a terminal so the log shows each line when it happens."""
    drop = ("AIRFLOW", "NEWSFLOW", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(drop)}, "PYTHONUNBUFFERED": "1"}


def _processes() -> list[tuple[int, int, int, str]]:
    """(pid, parent pid, process group, state) of every process on the machine."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,pgid=,stat="], capture_output=True, text=True, check=True)
    return [(int(pid), int(ppid), int(pgid), stat) for pid, ppid, pgid, stat in map(str.split, out.stdout.splitlines())]


def _groups_under(root: int) -> set[int]:
    """The process groups of `root` and its live descendants: make's, and the one the recipe starts Airflow in."""
    rows = _processes()
    pids, grew = {root}, True
    groups: set[int] = set()
    while grew:
        found = {pid for pid, ppid, _, _ in rows if ppid in pids} - pids
        pids, grew = pids | found, bool(found)
    groups.update(pgid for pid, _, pgid, _ in rows if pid in pids)
    return groups


def _live(groups: set[int]) -> set[int]:
    """The groups that still hold a process that is not a zombie (an orphan's zombie is init's to reap)."""
    return {pgid for _, _, pgid, stat in _processes() if pgid in groups and not stat.startswith("Z")}


@dataclass
class Embedded:
    popen: subprocess.Popen
    home: Path
    log: Path
    api: str
    ports: tuple[int, ...]
    db: Path
    stories: list[str]
    groups: set[int] = field(default_factory=set)
    deadline: float = 0.0

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, what: str, probe: Callable[[], T | None]) -> T:
        """Poll `probe` until it returns something, while make (and so Airflow) is still running."""
        last: object = None
        while time.monotonic() < self.deadline:
            assert self.popen.poll() is None, f"make airflow exited ({self.popen.returncode}):\n{self.output()[-4000:]}"
            self.groups |= _groups_under(self.popen.pid)
            try:
                if (result := probe()) is not None:
                    return result
            except Exception as exc:
                last = exc
            time.sleep(1)
        raise AssertionError(f"timed out waiting for {what} (last error: {last!r}):\n{self.output()[-4000:]}")

    def interrupt(self) -> bool:
        """Ctrl-C: SIGINT to make's process group, as a terminal sends it. True when make exits and no process
        of either group is left within STOP_BUDGET_S; anything left is killed."""
        os.killpg(self.popen.pid, signal.SIGINT)
        end = time.monotonic() + STOP_BUDGET_S
        while time.monotonic() < end and (self.popen.poll() is None or _live(self.groups)):
            time.sleep(0.5)
        clean = self.popen.poll() is not None and not _live(self.groups)
        for pgid in _live(self.groups):
            os.killpg(pgid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        return clean


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory, news_server: NewsFake) -> Iterator[Embedded]:
    require(shutil.which("make") is not None, "make is not on PATH")
    require(AIRFLOW.exists(), "the project environment (.venv) is not set up")
    home = tmp_path_factory.mktemp("airflow_home")
    data = tmp_path_factory.mktemp("data")
    stories = news_server.distinct_stories(2)
    feeds = data / "feeds.yaml"
    feeds.write_text(f'feeds:\n  - {{url: "{news_server.stories_feed(FEED, stories)}", name: Local, max_items: 2}}\n')
    api_port, worker_logs, trigger_logs = free_port(), free_port(), free_port()
    log = home.parent / f"{home.name}-make-airflow.log"
    command = [
        "make",
        "--no-print-directory",
        "-o",
        "setup",
        "airflow",  # -o setup: this environment is the one under test
        f"AIRFLOW_HOME={home}",
        f"AIRFLOW__API__PORT={api_port}",
        # the log servers' fixed ports (8793, 8794) too, so a `make airflow` already running here is no obstacle
        f"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT={worker_logs}",
        f"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT={trigger_logs}",
        f"NEWSFLOW_DB={data / 'news.duckdb'}",
        f"NEWSFLOW_STAGING_DIR={data / 'staging'}",
        f"NEWSFLOW_FEEDS={feeds}",
        "NEWSFLOW_ALLOW_HOSTS=127.0.0.1",  # the README's way to poll a feed on 127.0.0.1
    ]
    with log.open("wb") as out:
        popen = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=_user_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    started = Embedded(
        popen,
        home,
        log,
        f"http://127.0.0.1:{api_port}",
        (api_port, worker_logs, trigger_logs),
        data / "news.duckdb",
        [news_server.story_url(n) for n in stories],
        {popen.pid},
        time.monotonic() + START_BUDGET_S,
    )
    try:
        yield started
    finally:
        if popen.poll() is None:
            started.interrupt()


def _healthy(embedded: Embedded) -> dict | None:
    import httpx

    health = httpx.get(f"{embedded.api}/api/v2/monitor/health", timeout=10).json()
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    return health if all(health.get(part, {}).get("status") == "healthy" for part in parts) else None


def test_make_airflow_starts_clean_runs_a_dag_and_stops_on_ctrl_c(embedded: Embedded) -> None:
    import httpx

    embedded.wait_for("every component to report healthy", lambda: _healthy(embedded))

    password_file = embedded.home / "simple_auth_manager_passwords.json.generated"
    assert password_file.is_file()
    password = json.loads(password_file.read_text())["admin"]
    config = configparser.ConfigParser(interpolation=None)
    config.read(embedded.home / "airflow.cfg")
    assert all(len(config.get(section, option)) >= 64 for section, option in KEY_OPTIONS)

    with httpx.Client(base_url=embedded.api, timeout=30) as http:
        response = http.post("/auth/token", json={"username": "admin", "password": password})
        assert response.status_code == 201, response.text
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

        def listed() -> dict[str, bool] | None:
            dags = http.get("/api/v2/dags", headers=headers).json()["dags"]
            paused = {dag["dag_id"]: dag["is_paused"] for dag in dags}
            return paused if paused.keys() >= DAG_IDS else None

        assert embedded.wait_for("both DAGs to be parsed", listed) == {"feed_ingest": True, "news_ingest": True}

        # The README's way to unpause from another shell: the same AIRFLOW_HOME is all the CLI needs.
        unpause = subprocess.run(
            [str(AIRFLOW), "dags", "unpause", "feed_ingest"],
            cwd=PROJECT_ROOT,
            env={**_user_env(), "AIRFLOW_HOME": str(embedded.home)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert unpause.returncode == 0, unpause.stdout[-2000:] + unpause.stderr[-2000:]
        assert listed() == {"feed_ingest": False, "news_ingest": True}

        # Unpaused, feed_ingest runs at once: it polls the feed, stages, validates and loads both items.
        def finished() -> dict | None:
            runs = http.get("/api/v2/dags/feed_ingest/dagRuns", headers=headers).json()["dag_runs"]
            return runs[0] if runs and runs[0]["state"] in ("success", "failed") else None

        run = embedded.wait_for("the first feed_ingest run to end", finished)
        assert run["state"] == "success"

    con = duckdb.connect(str(embedded.db), read_only=True)
    loaded = con.execute("SELECT url, run_id FROM feed_items ORDER BY url").fetchall()
    con.close()
    assert loaded == sorted((url, run["dag_run_id"]) for url in embedded.stories)
    run_logs = embedded.home / "logs" / "dag_id=feed_ingest" / f"run_id={run['dag_run_id']}"
    task_logs = sorted(run_logs.rglob("*.log"))
    assert {path.relative_to(run_logs).parts[0] for path in task_logs} == {
        "task_id=plan",
        "task_id=poll",
        "task_id=validate",
        "task_id=load",
    }
    errors = [
        line
        for path in task_logs
        for line in path.read_text(errors="replace").splitlines()
        if any(mark in line for mark in ERROR_MARKS)
    ]
    assert errors == []

    assert embedded.interrupt(), "processes of `make airflow` outlived Ctrl-C"
    assert all(_port_free(port) for port in embedded.ports)
    output = embedded.output()
    assert f"Uvicorn running on {embedded.api}" in output  # the API server started, on this machine only
    assert "standalone | Complete" in output  # standalone's own orderly shutdown, not a kill
    assert [line for line in output.splitlines() if any(warning in line for warning in FIXED_WARNINGS)] == []
    assert [line for line in output.splitlines() if any(mark in line for mark in ERROR_MARKS)] == []
