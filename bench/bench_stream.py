"""Stream latency on the embedded Airflow: seconds from a feed's poll to a new item's row in the published file.

    python bench/bench_stream.py [--items 3]        (or `make bench-stream`; needs ../shared for the article pages)

Starts `make airflow` exactly as a user does (scripts/airflow-init.sh, then `airflow standalone`, the Makefile's
sizing) in a temp AIRFLOW_HOME on free ports, with one feed served by a local news site on 127.0.0.1
(tests/newsfake.py), `poll_minutes: 1` and `max_minutes: 1` (a fixed interval: the feed's learned cadence would
slow its polls) and NEWSFLOW_POLL_MINUTES=1; feed_ingest starts unpaused. Once the first
run has loaded the feed's first items, the feed gains one item (with its article page) at a time; the bench
opens the published DuckDB file (read-only, afresh each time, as an analyst would) until the item's row is
there, then reads the run's task instances from Airflow's SQLite metadata. Per item, in seconds:

- item → visible: from the feed gaining the item (waiting for the next 1-minute tick included)
- run → visible: from the scheduled poll's start (the DAG run started) to the row being queryable
- poll → visible: from the `poll` task running to the row being queryable
- per task (plan, poll, validate, load): scheduled → queued (the scheduler), queued → running (a LocalExecutor
  worker takes it), running (the task process: fork, DAG file parse, imports, then the work)
- validation: the seconds GX took inside `validate` (ingest_runs.validation_seconds)

Then the processes of `make airflow` (count, RSS and PSS summed over its session). A benchmark, not a test:
it prints numbers and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.config import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "tests"))
from newsfake import NewsFake, RunningServer

SHARED_DIR = PROJECT_ROOT.parent / "shared"
FEED = "stream.xml"
INITIAL_STORIES = 2
TASKS = ("plan", "poll", "validate", "load")
START_BUDGET_S = 600  # bounds on waiting for a wedged Airflow, not speed targets
ITEM_BUDGET_S = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Embedded:
    """`make airflow` in a temp home, in a session of its own so Ctrl-C (SIGINT to its group) stops it all."""

    def __init__(self, root: Path, feeds: Path, allow_hosts: str = "127.0.0.1") -> None:
        self.home, self.data = root / "airflow", root / "data"
        self.db = self.data / "news.duckdb"
        self.log = root / "make-airflow.log"
        command = [
            "make",
            "--no-print-directory",
            "-o",
            "setup",
            "airflow",
            f"AIRFLOW_HOME={self.home}",
            f"AIRFLOW__API__PORT={free_port()}",
            f"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT={free_port()}",
            f"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT={free_port()}",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False",  # feed_ingest runs as soon as it is parsed
            f"NEWSFLOW_DB={self.db}",
            f"NEWSFLOW_STAGING_DIR={self.data / 'staging'}",
            f"NEWSFLOW_FEEDS={feeds}",
            f"NEWSFLOW_ALLOW_HOSTS={allow_hosts}",
            "NEWSFLOW_POLL_MINUTES=1",
        ]
        # a shell without this checkout's (or an outer make's) Airflow and newsflow settings: make's own apply
        drop = ("AIRFLOW", "NEWSFLOW", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
        env = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def alive(self) -> None:
        if self.popen.poll() is not None:
            raise SystemExit(f"make airflow exited ({self.popen.returncode}):\n{self.log.read_text()[-3000:]}")

    def processes(self) -> list[tuple[int, int, int, str]]:
        """(pid, RSS KiB, PSS KiB, command) of every process in make's session."""
        out = subprocess.run(["ps", "-eo", "pid=,sid=,rss=,args="], capture_output=True, text=True, check=True)
        found = []
        for line in out.stdout.splitlines():
            pid, sid, rss, args = line.split(None, 3)
            if int(sid) == self.popen.pid:
                found.append((int(pid), int(rss), pss_kib(int(pid)), args))
        return found

    def stop(self) -> None:
        """Ctrl-C as a terminal sends it; whatever is left after a minute is killed."""
        os.killpg(self.popen.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=60)
        for pid, *_ in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


def pss_kib(pid: int) -> int:
    """Proportional set size: the pages a forked process shares with its parent count once over the session."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return next((int(line.split()[1]) for line in rollup if line.startswith("Pss:")), 0)
    except OSError:
        return 0


def published(db: Path, sql: str, params: list[object]) -> list[tuple]:
    """A query on the published file, opened read-only afresh; [] while it does not exist yet."""
    if not db.exists():
        return []
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:  # the file is being replaced right now
        return []
    try:
        return con.execute(sql, params).fetchall()
    except duckdb.CatalogException:  # published before the feed tables existed
        return []
    finally:
        con.close()


def wait_for(embedded: Embedded, what: str, budget: float, probe):
    end = time.monotonic() + budget
    while time.monotonic() < end:
        embedded.alive()
        if result := probe():
            return result
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}; log: {embedded.log}")


def epoch(value: str | None) -> float:
    """Airflow's SQLite timestamps are UTC; those of a finished run and its task instances are all set."""
    if not value:
        raise ValueError(f"no timestamp in Airflow's metadata database: {value!r}")
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def run_timings(embedded: Embedded, run_id: str) -> dict[str, float]:
    """The finished run's task instances, from Airflow's metadata database."""
    metadata = sqlite3.connect(embedded.home / "airflow.db")
    try:

        def done() -> tuple | None:
            return metadata.execute(
                "SELECT start_date FROM dag_run WHERE dag_id = 'feed_ingest' AND run_id = ? AND state = 'success'",
                [run_id],
            ).fetchone()

        (run_start,) = wait_for(embedded, f"run {run_id} to finish", ITEM_BUDGET_S, done)
        rows = metadata.execute(
            "SELECT task_id, scheduled_dttm, queued_dttm, start_date, end_date FROM task_instance"
            " WHERE dag_id = 'feed_ingest' AND run_id = ?",
            [run_id],
        ).fetchall()
    finally:
        metadata.close()
    timings = {"run_start": epoch(run_start)}
    # in the DAG's order; poll is mapped over the one feed, so one row per task
    for task_id, scheduled, queued, started, ended in sorted(rows, key=lambda row: TASKS.index(row[0])):
        scheduled, queued, started, ended = map(epoch, (scheduled, queued, started, ended))
        timings |= {
            f"{task_id} start": started,
            f"{task_id}: scheduled → queued": queued - scheduled,
            f"{task_id}: queued → running": started - queued,
            f"{task_id}: running": ended - started,
        }
    return timings


def measure_item(embedded: Embedded, fake: NewsFake, stories: list[int]) -> dict[str, float]:
    """Add one story to the feed; seconds until its row is in the published file, and where they went."""
    story = fake.distinct_stories(1, taken=stories)[0]
    stories.append(story)
    fake.stories_feed(FEED, stories)
    added = time.time()
    url = fake.story_url(story)
    row = wait_for(
        embedded,
        f"story {story} in the published file",
        ITEM_BUDGET_S,
        lambda: published(embedded.db, "SELECT run_id, outcome FROM feed_items WHERE url = ?", [url]),
    )
    visible = time.time()
    run_id, outcome = row[0]
    timings = run_timings(embedded, run_id)
    ((seconds, cold),) = published(
        embedded.db, "SELECT validation_seconds, validation_cold_start FROM ingest_runs WHERE run_id = ?", [run_id]
    )
    print(
        f"  story {story}: {outcome} by {run_id}, {visible - added:.1f} s after it was added"
        f"{' (validate imported GX itself)' if cold else ''}",
        flush=True,
    )
    return {
        "item → visible": visible - added,
        "run → visible": visible - timings.pop("run_start"),
        "poll → visible": visible - timings["poll start"],
        **{key: value for key, value in timings.items() if not key.endswith(" start")},
        "validation (GX, inside validate)": seconds,
    }


def print_processes(embedded: Embedded, when: str) -> None:
    procs = embedded.processes()
    rss, pss = sum(p[1] for p in procs) / 1024, sum(p[2] for p in procs) / 1024
    print(f"\nmake airflow, {when}: {len(procs)} processes, RSS {rss:.0f} MiB summed, PSS {pss:.0f} MiB")
    for pid, rss_kib, pss_kib_, args in procs:
        print(f"  {pid:>7} RSS {rss_kib / 1024:5.0f} MiB  PSS {pss_kib_ / 1024:5.0f} MiB  {args[:90]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=3, help="new items, one at a time (default 3)")
    args = parser.parse_args()
    if not SHARED_DIR.is_dir():
        raise SystemExit(f"{SHARED_DIR} (the shared corpora: the article pages the local feed links to) is missing")

    server = RunningServer(SHARED_DIR)
    fake = server.fake
    stories = fake.distinct_stories(INITIAL_STORIES)
    feed_url = fake.stories_feed(FEED, stories)
    with tempfile.TemporaryDirectory(prefix="bench_stream_") as tmp:
        root = Path(tmp)
        feeds = root / "feeds.yaml"
        feeds.write_text(f'feeds:\n  - {{url: "{feed_url}", name: Stream, poll_minutes: 1, max_minutes: 1}}\n')
        began = time.monotonic()
        embedded = Embedded(root, feeds)
        try:
            first = fake.story_url(stories[-1])
            wait_for(
                embedded,
                "the first run to load the feed's first items",
                START_BUDGET_S,
                lambda: published(embedded.db, "SELECT 1 FROM feed_items WHERE url = ?", [first]),
            )
            print(
                f"make airflow started and its first feed_ingest run loaded {len(stories)} items "
                f"in {time.monotonic() - began:.0f} s",
                flush=True,
            )
            print_processes(embedded, "after the first run")
            print(f"\nadding {args.items} items, one at a time:", flush=True)
            samples = [measure_item(embedded, fake, stories) for _ in range(args.items)]
            print_processes(embedded, f"after {args.items} more runs")
        finally:
            embedded.stop()
            server.stop()

    print(f"\nseconds over {len(samples)} items (median, max):")
    width = max(map(len, samples[0]))
    for key in samples[0]:
        values = [sample[key] for sample in samples]
        print(f"  {key:<{width}}  {statistics.median(values):6.1f}  {max(values):6.1f}")


if __name__ == "__main__":
    main()
