"""The docker-compose topology run natively: Airflow on PostgreSQL, CeleryExecutor on Redis, two Celery workers.

Started as real processes (no Docker): api-server, scheduler, dag-processor and two Celery workers with
distinct `--celery-hostname`s, on a fresh PostgreSQL database (random name, dropped at the end) and a Redis
database + key prefix + Celery queue of this test's own. news_ingest is unpaused and triggered through the
REST API v2 with a JWT from `/auth/token`; then the rows in DuckDB, which worker ran which task (Celery's
result table), every stage shard, and the `duckdb` pool of the single writer.

Only what the design guarantees is asserted: every shard runs and succeeds on one of the workers, and `load`
runs alone in its pool after all of them. Which worker takes which shard, and whether two shards overlap in
time, is Celery's scheduling: on a loaded machine one worker may take both, and that is correct.

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth) and Redis at 127.0.0.1:6379: without them it
skips, and fails under NEWSFLOW_STRICT=1. Every process it starts is stopped by its process group id.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_ROOT, free_port, project_airflow, require

pytestmark = pytest.mark.slow

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
BIN = Path(sys.executable).parent
DAG_ID = "news_ingest"
WORKERS = ("w1", "w2")
STAGE_SHARDS = len(WORKERS)  # as many shards as workers: both could run at once, neither has to
TOTAL_BUDGET_S = 600  # everything from the first process started to the run's end
LOG_TAIL_LINES = 60


# ---------------------------------------------------------------------------------------------- services


def _postgres_error() -> str | None:
    try:
        import psycopg2
    except ImportError as exc:  # pragma: no cover - psycopg2-binary is a project dependency
        return f"psycopg2 is not importable ({exc})"
    try:
        psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3).close()
    except Exception as exc:
        detail = " ".join(str(exc).split())
        return f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as user {PG_USER} ({detail})"
    return None


def _redis_error() -> str | None:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover
        return f"redis-py is not importable ({exc})"
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({exc})"
    return None


def _pg(dbname: str = "postgres"):
    import psycopg2

    con = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, connect_timeout=5)
    con.autocommit = True
    return con


def _admin_sql(statement: str) -> None:
    con = _pg()
    try:
        con.cursor().execute(statement)
    finally:
        con.close()


def _free_redis_db() -> int:
    """An empty Redis database number (1..15), so the broker keys of this test are alone in it."""
    import redis

    for number in list(range(15, 0, -1)):
        if redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number).dbsize() == 0:
            return number
    return 15  # all in use: the key prefix and queue name below still keep this test's keys apart


# --------------------------------------------------------------------------------------------- processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


@dataclass
class Cluster:
    env: dict[str, str]
    home: Path
    data: Path
    dbname: str
    redis_db: int
    prefix: str
    queue: str
    api: str
    password: str
    procs: list[Proc] = field(default_factory=list)
    deadline: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def start(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> Proc:
        log = self.home / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [str(BIN / "airflow"), *args],
                env={**self.env, **(extra_env or {})},
                cwd=self.home,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopped as a whole, by this pid
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def check_alive(self) -> None:
        dead = [p for p in self.procs if p.popen.poll() is not None]
        if dead:
            raise AssertionError(
                "process(es) exited early: " + ", ".join(f"{p.name} (rc {p.popen.returncode})" for p in dead)
            )

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} (pid {p.popen.pid}) -----\n{p.tail()}" for p in self.procs)


def _stop(procs: list[Proc]) -> None:
    """SIGTERM each process group we started (by its leader's pid), then SIGKILL what is left."""
    for proc in procs:
        if proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
    end = time.monotonic() + 30
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=max(0.1, end - time.monotonic()))
    for proc in procs:  # the group may outlive its leader (task supervisors, gunicorn/uvicorn children)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=10)


def _wait(what: str, cluster: Cluster, probe, interval: float = 1.0, limit: float | None = None):
    """Call `probe` until it returns something truthy; bounded by the cluster's deadline (and `limit`)."""
    end = time.monotonic() + min(cluster.remaining(), limit if limit is not None else cluster.remaining())
    last: object = None
    while time.monotonic() < end:
        cluster.check_alive()
        try:
            result = probe()
        except Exception as exc:
            result, last = None, exc
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last error: {last!r})")


# ---------------------------------------------------------------------------------------------- fixture


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require(not (err := _postgres_error()), err or "")
    require(not (err := _redis_error()), err or "")
    import redis

    tag = uuid.uuid4().hex[:10]
    home = tmp_path_factory.mktemp("airflow_home")
    data = tmp_path_factory.mktemp("data")
    dbname = f"newsflow_it_{tag}"
    redis_db = _free_redis_db()
    prefix = f"newsflow-it-{tag}:"
    queue = f"newsflow_it_{tag}"
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    password = secrets.token_urlsafe(16)
    (home / "passwords.json").write_text(json.dumps({"admin": password}))
    pg_url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        **project_airflow(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_url,
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(64),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}",
        # one task at a time per worker: two shards can only run at once on different workers
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        # Celery records which worker ran each task in its result table (celery_taskmeta.worker)
        "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG": json.dumps({"result_extended": True}),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": prefix,
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "task_logs"),
        "NEWSFLOW_DB": str(data / "news.duckdb"),
        "NEWSFLOW_STAGING_DIR": str(data / "staging"),
        "NEWSFLOW_SEEDS_DIR": str(PROJECT_ROOT / "seeds"),
        "NEWSFLOW_FEEDS": str(PROJECT_ROOT / "feeds.yaml"),
        "NEWSFLOW_STAGE_SHARDS": str(STAGE_SHARDS),
    }
    if importlib.util.find_spec("asyncpg") is None:
        # Airflow derives a postgresql+asyncpg:// URL for its async engine; asyncpg is in the official image
        # but not (yet) a project dependency. Empty = no async engine: in 3.3 only multi-team, the dag-run
        # "wait" endpoint and the task state store use it, none of which newsflow does.
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = ""
    cluster = Cluster(env, home, data, dbname, redis_db, prefix, queue, api, password)
    cluster.deadline = time.monotonic() + TOTAL_BUDGET_S
    began = time.monotonic()
    _admin_sql(f'CREATE DATABASE "{dbname}"')
    try:
        init = subprocess.run(
            ["bash", str(PROJECT_ROOT / "scripts" / "airflow-init.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert init.returncode == 0, f"airflow-init.sh failed:\n{init.stdout[-3000:]}\n{init.stderr[-3000:]}"
        cluster.timings["migrate + pool (airflow-init.sh)"] = time.monotonic() - began
        cluster.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1")
        cluster.start("scheduler", "scheduler")
        cluster.start("dag-processor", "dag-processor")
        for name in WORKERS:
            cluster.start(
                f"worker-{name}",
                "celery",
                "worker",
                "--queues",
                queue,
                "--concurrency",
                "1",
                "--celery-hostname",
                f"{name}@{tag}",
                "--skip-serve-logs",
                "--pid",
                str(home / f"worker-{name}.pid"),
            )
        yield cluster
    except BaseException:
        print(cluster.logs(), file=sys.stderr)
        raise
    finally:
        _stop(cluster.procs)
        try:
            r = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=redis_db)
            keys = list(r.scan_iter(match=f"{prefix}*", count=500))
            if keys:
                r.delete(*keys)
        finally:
            _admin_sql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


# ------------------------------------------------------------------------------------------------- REST


def _client(cluster: Cluster):
    import httpx

    return httpx.Client(base_url=cluster.api, timeout=30)


def _token(cluster: Cluster) -> str:
    with _client(cluster) as http:
        response = http.post("/auth/token", json={"username": "admin", "password": cluster.password})
        assert response.status_code == 201, response.text
        return response.json()["access_token"]


def _healthy(cluster: Cluster) -> dict | None:
    with _client(cluster) as http:
        health = http.get("/api/v2/monitor/health").json()
    parts = ("metadatabase", "scheduler", "dag_processor")
    return health if all(health.get(p, {}).get("status") == "healthy" for p in parts) else None


def _celery_workers(cluster: Cluster) -> set[str]:
    from celery import Celery

    app = Celery(broker=cluster.env["AIRFLOW__CELERY__BROKER_URL"])
    app.conf.broker_transport_options = {"global_keyprefix": cluster.prefix}
    try:
        replies = app.control.ping(timeout=2.0)
    finally:
        app.close()
    return {name for reply in replies for name in reply}


def _ts(value: str | None) -> datetime:
    """A task instance's start or end date: every task instance compared here has both."""
    assert value, "a task instance that ran has its start and end dates"
    return datetime.fromisoformat(value)


# ------------------------------------------------------------------------------------------------- test


def test_news_ingest_runs_distributed_on_celery_postgres_redis(cluster: Cluster) -> None:
    try:
        _run_and_check(cluster)
    except BaseException:
        print(cluster.logs(), file=sys.stderr)
        raise
    finally:
        print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in cluster.timings.items()), file=sys.stderr)


def _run_and_check(cluster: Cluster) -> None:
    tag = cluster.prefix.removeprefix("newsflow-it-").rstrip(":")
    expected_workers = {f"{name}@{tag}" for name in WORKERS}
    began = time.monotonic()
    _wait("api-server, scheduler and dag-processor to be healthy", cluster, lambda: _healthy(cluster), 2)
    headers = {"Authorization": f"Bearer {_token(cluster)}"}
    _wait("both Celery workers to answer a ping", cluster, lambda: expected_workers <= _celery_workers(cluster), 2)

    with _client(cluster) as http:
        _wait(
            f"{DAG_ID} to be parsed by the dag-processor",
            cluster,
            lambda: http.get(f"/api/v2/dags/{DAG_ID}", headers=headers).status_code == 200,
            2,
        )
        response = http.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}, headers=headers)
        assert response.status_code == 200, response.text
        response = http.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None}, headers=headers)
        assert response.status_code == 200, response.text
        run_id = response.json()["dag_run_id"]
        cluster.timings["processes up, DAG parsed"] = time.monotonic() - began
        began = time.monotonic()

        def finished() -> str | None:
            state = http.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", headers=headers).json()["state"]
            return state if state in ("success", "failed") else None

        state = _wait(f"run {run_id} to finish", cluster, finished, 2)
        cluster.timings["trigger to run end"] = time.monotonic() - began
        tis = http.get(
            f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", headers=headers, params={"limit": 100}
        ).json()["task_instances"]
    summary = [
        (t["task_id"], t["map_index"], t["state"], t["pool"], t["hostname"], t["start_date"], t["end_date"])
        for t in tis
    ]
    assert state == "success", f"run {run_id} ended {state}: {summary}"

    # Which Celery worker ran each task: Celery's own result table (result_extended), joined by the
    # executor's task id that Airflow keeps per task instance.
    con = _pg(cluster.dbname)
    cur = con.cursor()
    cur.execute(
        "SELECT ti.task_id, ti.map_index, ti.pool, ct.worker FROM task_instance ti"
        " LEFT JOIN celery_taskmeta ct ON ct.task_id = ti.external_executor_id"
        " WHERE ti.dag_id = %s AND ti.run_id = %s AND ti.state <> 'skipped'",
        (DAG_ID, run_id),
    )
    ran_on = {(task, index): (pool, worker) for task, index, pool, worker in cur.fetchall()}
    cur.execute("SELECT slots FROM slot_pool WHERE pool = 'duckdb'")
    assert cur.fetchone() == (1,)
    # the single writer: no two task instances of pool duckdb (any DAG, any run) ever ran at the same time
    cur.execute(
        "SELECT start_date, end_date FROM task_instance WHERE pool = 'duckdb' AND start_date IS NOT NULL"
        " ORDER BY start_date"
    )
    writers = cur.fetchall()
    assert writers and all(b[0] >= a[1] for a, b in itertools.pairwise(writers)), writers
    con.close()
    print(f"task instances: {json.dumps(summary, indent=1)}\nran on: {ran_on}", file=sys.stderr)
    assert all(worker in expected_workers for _, worker in ran_on.values()), ran_on

    assert [t["state"] for t in tis if t["task_id"] == "record_failure"] == ["skipped"]  # nothing failed: it never ran
    stages = [t for t in tis if t["task_id"] == "stage"]
    loads = [t for t in tis if t["task_id"] == "load"]
    assert stages and len(loads) == 1
    load = loads[0]
    assert load["pool"] == "duckdb" and ran_on[("load", load["map_index"])][0] == "duckdb"
    # the single writer starts only after every stage shard has ended
    assert _ts(load["start_date"]) >= max(_ts(t["end_date"]) for t in stages)

    # stage is mapped over shards of the seed folder: each shard is its own task instance, free to run on any
    # worker, outside the writer's pool. Which worker took which shard is not asserted (see the module docstring).
    mapped = [t for t in stages if t["map_index"] >= 0]
    assert len(mapped) == len(stages), f"stage is not mapped: {summary}"
    assert sorted(t["map_index"] for t in mapped) == list(range(STAGE_SHARDS)), (
        f"stage is not mapped into {STAGE_SHARDS} shards: {summary}"
    )
    assert all(t["state"] == "success" for t in mapped), summary
    assert all(ran_on[("stage", t["map_index"])][1] in expected_workers for t in mapped), ran_on
    assert all(t["pool"] == "default_pool" for t in mapped)
    assert all(t["hostname"] for t in tis if t["state"] != "skipped")  # record_failure, skipped, never ran

    db = duckdb.connect(cluster.env["NEWSFLOW_DB"], read_only=True)
    try:
        assert db.execute("SELECT count(*) FROM articles").fetchone() == (5,)
        assert db.execute("SELECT count(*) FROM raw_documents WHERE status = 'loaded'").fetchone() == (5,)
        assert [r for (r,) in db.execute("SELECT run_id FROM ingest_runs WHERE status = 'success'").fetchall()] == [
            run_id
        ]
        titles = {t for (t,) in db.execute("SELECT title FROM articles").fetchall()}
        assert "Russian and Japanese foreign ministers to discuss peace treaty in Moscow" in titles
        # the worker preloaded Great Expectations (plugins/airflow_local_settings.py):
        # the validate task did not import it
        assert db.execute("SELECT validation_cold_start, validation_success FROM ingest_runs").fetchall() == [
            (False, True)
        ]
    finally:
        db.close()
