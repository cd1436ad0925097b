"""The stream at newsroom scale: N feeds on N loopback hosts, via `newsflow ingest --feeds` and the embedded Airflow.

    python bench/bench_fleet.py [--feeds 1000] [--items 3] [--latency 0.1] [--news 10] [--bad 5]
                                [--floor-sample 300] [--skip-airflow]      (or `make bench-fleet`)

A fleet of fake news sites (tests/fleet.py: site i on its own address from 127.0.1.2, every response
`--latency` seconds late, ETags, real article text from ../shared or generated text without it) serves N
RSS feeds of `--items` new articles each. In one run, on this machine:

- the floor: trafilatura extraction plus one spaCy parse (bench/bench_pipeline.py's measure) of a sample of
  the fleet's own pages, on one process per CPU: the articles/s no pipeline beats;
- `newsflow ingest --feeds` (every feed, `--force`), a fresh database: the first round (every article new),
  a steady round (every feed answers 304), a round where `--news` feeds have one new article each, and a
  steady round with `--bad` feeds of each misbehaviour added (hanging, 500, redirect loop, gzip bomb);
- `make airflow` in a temp home (bench/bench_stream.py's Embedded, NEWSFLOW_POLL_MINUTES=1, feeds due every
  minute), on a fresh fleet and database: the first run, the next tick (every feed 304), and the tick after
  `--news` feeds gained an item, with the seconds from that run's start until the items are queryable.

Per round: wall seconds, CPU-seconds (the CLI's process and its workers; for Airflow, every process on the
machine while the run ran, the fleet's included), articles/s against the floor, task instances, publishes
(the published file replaced) and `newsflow_articles` Asset events, and the largest process's peak RSS.
A benchmark, not a test: it prints numbers and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from pipelines.config import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "tests"))
sys.path.insert(0, str(PROJECT_ROOT / "bench"))
from bench_pipeline import run_measurement
from bench_stream import Embedded, epoch, wait_for
from fleet import FleetProcess, write_feeds_yaml

ALLOW = "127.0.0.0/8"
NEWSFLOW = Path(sys.executable).with_name("newsflow")
RUN_BUDGET_S = 3600  # bounds on waiting for a wedged Airflow, not speed targets


def floor(fleet: FleetProcess, sample: int, work: Path, processes: int) -> float:
    """Articles per second of extraction plus one parse, over `sample` of the fleet's pages spread across its sites."""
    folder = work / "floor"
    folder.mkdir()
    sites = [site for site in fleet.sites() if site["kind"] == "good"]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for number in range(sample):
        site = sites[number * len(sites) // sample]
        page = site["url"].replace("/feed.xml", f"/articles/{number % 3}.html")
        with opener.open(page, timeout=30) as response:
            (folder / f"{number:04d}.html").write_bytes(response.read())
    measured = run_measurement("floor", folder, work, processes)
    seconds = sum(measured["seconds"].values())
    print(
        f"floor over {sample} of the fleet's pages on {processes} processes: {seconds:.1f} s "
        f"(extraction {measured['seconds']['extraction']:.1f}, parse {measured['seconds']['spaCy parse']:.1f}), "
        f"{sample / seconds:.1f} articles/s, {sum(measured['cpu'].values()):.1f} CPU-s",
        flush=True,
    )
    return sample / seconds


# Runs a command and reports its CPU-seconds and the peak RSS of its largest process (the command's workers
# included): this process's own children accumulate over rounds, a fresh wrapper's do not.
MEASURED = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
                  "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024}))
"""


def cli_round(label: str, feeds: Path, data: Path, rate: float) -> dict[str, object]:
    """`newsflow ingest --feeds --force` once; what it did and cost."""
    env = {
        **os.environ,
        "NEWSFLOW_ALLOW_HOSTS": ALLOW,
        "NEWSFLOW_DB": str(data / "news.duckdb"),
        "NEWSFLOW_STAGING_DIR": str(data / "staging"),
    }
    inode = _inode(data / "news.duckdb")
    started = time.monotonic()
    wrapped = subprocess.run(
        [sys.executable, "-c", MEASURED, str(NEWSFLOW), "ingest", "--feeds", str(feeds), "--force", "--json"],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
    )
    wall = time.monotonic() - started
    done = json.loads(wrapped.stdout)
    if done["returncode"]:
        raise SystemExit(f"{label}: newsflow ingest failed: {done['stderr'][-2000:]}")
    counts = json.loads(done["stdout"].strip().splitlines()[-1])
    cpu, peak = done["cpu"], done["peak_mib"]
    articles = counts["articles_new"] + counts["articles_updated"]
    return {
        "round": f"CLI: {label}",
        "wall": wall,
        "cpu": cpu,
        "articles": articles,
        "per_s": articles / wall,
        "of_floor": articles / wall / rate if rate else None,
        "feeds": counts.get("feeds_polled", 0),
        "failed": counts.get("feeds_failed", 0),
        "task_instances": None,
        "publishes": int(_inode(data / "news.duckdb") != inode),
        "asset_events": None,
        "peak_mib": peak,
    }


def _inode(path: Path) -> int | None:
    return path.stat().st_ino if path.exists() else None


def machine_cpu() -> float:
    """CPU-seconds every process on the machine used since boot (/proc/stat: user, nice, system, irq, softirq)."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class Sampler:
    """Twice a second: the machine's CPU-seconds so far, and the largest RSS of any one process of `make airflow`."""

    def __init__(self, embedded: Embedded) -> None:
        self.embedded, self.samples, self._stop = embedded, [(time.time(), machine_cpu(), 0)], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                rss = max((rss for _, rss, _, _ in self.embedded.processes()), default=0)
            except subprocess.CalledProcessError:
                continue
            self.samples.append((time.time(), machine_cpu(), rss))

    def between(self, start: float, end: float) -> tuple[float, float]:
        """CPU-seconds the machine used from `start` to `end` (epoch seconds), and the peak RSS (MiB) meanwhile."""
        inside = [sample for sample in self.samples if start <= sample[0] <= end] or self.samples[-1:]
        before = max((sample for sample in self.samples if sample[0] <= start), default=self.samples[0])
        return inside[-1][1] - before[1], max(sample[2] for sample in inside) / 1024

    def stop(self) -> None:
        self._stop.set()


def finished_runs(embedded: Embedded) -> list[tuple[str, str, str]]:
    """(run_id, start, end) of feed_ingest's successful runs, oldest first."""
    if not (embedded.home / "airflow.db").exists():
        return []
    metadata = sqlite3.connect(embedded.home / "airflow.db")
    try:
        return metadata.execute(
            "SELECT run_id, start_date, end_date FROM dag_run WHERE dag_id = 'feed_ingest'"
            " AND state = 'success' ORDER BY start_date"
        ).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        metadata.close()


def run_facts(embedded: Embedded, run_id: str) -> tuple[int, int]:
    """Task instances of the run, and the Asset events its tasks emitted."""
    metadata = sqlite3.connect(embedded.home / "airflow.db")
    try:
        (tasks,) = metadata.execute(
            "SELECT count(*) FROM task_instance WHERE dag_id = 'feed_ingest' AND run_id = ?", [run_id]
        ).fetchone()
        (events,) = metadata.execute(
            "SELECT count(*) FROM asset_event WHERE source_dag_id = 'feed_ingest' AND source_run_id = ?", [run_id]
        ).fetchone()
    finally:
        metadata.close()
    return tasks, events


def airflow_round(
    label: str, embedded: Embedded, sampler: Sampler, done_before: int, rate: float, inode: int | None
) -> tuple[dict[str, object], int | None]:
    """Wait for the next successful feed_ingest run and describe it."""
    runs = wait_for(
        embedded,
        f"feed_ingest run {done_before + 1}",
        RUN_BUDGET_S,
        lambda: (found := finished_runs(embedded)) and len(found) > done_before and found,
    )
    run_id, start, end = runs[done_before]
    time.sleep(1)  # the sampler's next reading
    tasks, events = run_facts(embedded, run_id)
    began, ended = epoch(start), epoch(end)
    wall = ended - began
    cpu, peak = sampler.between(began, ended)
    articles = _published_articles(embedded.db, run_id)
    now_inode = _inode(embedded.db)
    return (
        {
            "round": f"Airflow: {label}",
            "wall": wall,
            "cpu": cpu,
            "articles": articles,
            "per_s": articles / wall,
            "of_floor": articles / wall / rate if rate else None,
            "feeds": None,
            "failed": None,
            "task_instances": tasks,
            "publishes": int(now_inode != inode),
            "asset_events": events,
            "peak_mib": peak,
        },
        now_inode,
    )


def _published_articles(db: Path, run_id: str) -> int:
    from bench_stream import published

    rows = published(db, "SELECT articles_new + articles_updated FROM ingest_runs WHERE run_id = ?", [run_id])
    return int(rows[0][0]) if rows else 0


def news_latency(embedded: Embedded, fleet: FleetProcess, news: int) -> tuple[float, str]:
    """Seconds from the start of the first run after `news` feeds gained an item until all are queryable."""
    from bench_stream import published

    changed = fleet.publish(news, 1)
    published_at = time.time()
    hosts = [fleet.sites()[site]["url"].split("/")[2] for site in changed]
    query = "SELECT count(*) FROM feed_items WHERE run_id = ? AND (" + " OR ".join("url LIKE ?" for _ in hosts) + ")"
    run_id, start = wait_for(
        embedded, "a run started after the news", RUN_BUDGET_S, lambda: _started_after(embedded, published_at)
    )
    wait_for(
        embedded,
        f"{news} new articles in the published file",
        RUN_BUDGET_S,
        lambda: (
            (rows := published(embedded.db, query, [run_id, *(f"http://{host}/%" for host in hosts)]))
            and rows[0][0] >= news
        ),
    )
    return time.time() - epoch(start), run_id


def _started_after(embedded: Embedded, moment: float) -> tuple[str, str] | None:
    metadata = sqlite3.connect(embedded.home / "airflow.db")
    try:
        rows = metadata.execute(
            "SELECT run_id, start_date FROM dag_run WHERE dag_id = 'feed_ingest'"
            " AND start_date IS NOT NULL ORDER BY start_date"
        ).fetchall()
    finally:
        metadata.close()
    return next(((run_id, start) for run_id, start in rows if epoch(start) > moment), None)


def print_table(rounds: list[dict[str, object]], rate: float) -> None:
    def cell(value: object, digits: int = 1) -> str:
        if value is None:
            return "-"
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    print(f"\nfloor: {rate:.1f} articles/s\n")
    print(
        "| round | wall s | CPU-s | articles | articles/s | of floor | task instances | publishes | Asset events"
        " | peak RSS, largest process (MiB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rounds:
        print(
            f"| {r['round']} | {cell(r['wall'])} | {cell(r['cpu'])} | {r['articles']} | {cell(r['per_s'])} | "
            f"{cell(r['of_floor'], 2)} | {cell(r['task_instances'])} | {r['publishes']} | {cell(r['asset_events'])} | "
            f"{cell(r['peak_mib'], 0)} |"
        )


def cli_rounds(args: argparse.Namespace, work: Path) -> tuple[float, list[dict[str, object]]]:
    bad = {"hang": args.bad, "error": args.bad, "loop": args.bad, "bomb": args.bad}
    with FleetProcess(args.feeds + 4 * args.bad, items=args.items, latency=args.latency, **bad) as fleet:
        print(
            f"fleet: {args.feeds} feeds of {args.items} new articles on {args.feeds} hosts, "
            f"{args.latency * 1000:.0f} ms per response, texts: {fleet.info['texts']} "
            f"({fleet.info['text_count'] or 'unique'}); {4 * args.bad} misbehaving feeds besides",
            flush=True,
        )
        rate = floor(fleet, args.floor_sample, work, args.workers) if args.floor_sample else 0.0
        sites = fleet.sites()
        good = write_feeds_yaml(work / "feeds.yaml", [site["url"] for site in sites if site["kind"] == "good"])
        every = write_feeds_yaml(work / "all.yaml", [site["url"] for site in sites])
        data = work / "cli"
        rounds = [cli_round("first round, every article new", good, data, rate)]
        print(rounds[-1], flush=True)
        rounds.append(cli_round("steady, every feed 304", good, data, rate))
        print(rounds[-1], flush=True)
        fleet.publish(args.news, 1)
        rounds.append(cli_round(f"{args.news} feeds with 1 new article each", good, data, rate))
        print(rounds[-1], flush=True)
        if args.bad:
            rounds.append(cli_round(f"steady, with {4 * args.bad} misbehaving feeds", every, data, rate))
            print(rounds[-1], flush=True)
    return rate, rounds


def airflow_rounds(args: argparse.Namespace, work: Path, rate: float) -> list[dict[str, object]]:
    with FleetProcess(args.feeds, items=args.items, latency=args.latency) as fleet:
        root = work / "airflow"
        root.mkdir()
        # Every feed due every minute (no learned cadence), as the schedule's 1-minute tick.
        feeds = write_feeds_yaml(root / "feeds.yaml", fleet.feed_urls(), poll_minutes=1, max_minutes=1)
        began = time.monotonic()
        embedded = Embedded(root, feeds, allow_hosts=ALLOW)
        sampler = Sampler(embedded)
        rounds: list[dict[str, object]] = []
        try:
            first, inode = airflow_round("first run, every article new", embedded, sampler, 0, rate, None)
            rounds.append(first)
            print(
                f"make airflow's first run done {time.monotonic() - began:.0f} s after it started:", first, flush=True
            )
            steady, inode = airflow_round("next tick, every feed 304", embedded, sampler, 1, rate, inode)
            rounds.append(steady)
            print(steady, flush=True)
            latency, run_id = news_latency(embedded, fleet, args.news)
            wait_for(
                embedded,
                "that run to finish",
                RUN_BUDGET_S,
                lambda: run_id in [run for run, _, _ in finished_runs(embedded)],
            )
            tasks, events = run_facts(embedded, run_id)
            print(f"{args.news} new articles queryable {latency:.1f} s after their run started", flush=True)
            rounds.append(
                {
                    "round": f"Airflow: {args.news} feeds with 1 new article: from the run's start until queryable",
                    "wall": latency,
                    "cpu": None,
                    "articles": args.news,
                    "per_s": None,
                    "of_floor": None,
                    "task_instances": tasks,
                    "publishes": int(_inode(embedded.db) != inode),
                    "asset_events": events,
                    "peak_mib": None,
                }
            )
        finally:
            sampler.stop()
            embedded.stop()
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=3, help="new articles per feed in the first round")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds every response is delayed")
    parser.add_argument("--news", type=int, default=10, help="feeds that gain one article for the latency round")
    parser.add_argument("--bad", type=int, default=5, help="misbehaving feeds of each kind in the last CLI round")
    parser.add_argument("--floor-sample", type=int, default=300, help="pages the floor is measured on (0: skip)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--skip-airflow", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsflow-fleet-"))
    try:
        rate, rounds = cli_rounds(args, work)
        if not args.skip_airflow:
            rounds += airflow_rounds(args, work, rate)
        print_table(rounds, rate)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
