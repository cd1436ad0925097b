"""Worker processes: a stage's output never depends on how many there are, and boilerplate comes from history.

Real parts: the real pipeline (trafilatura, spaCy, GX, DuckDB files) over real news pages from ../shared,
loaded once with one worker and once with two, then compared table by table.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.config import Settings
from pipelines.pipeline import ingest_folder
from pipelines.tables import DATA_TABLES
from pipelines.workers import shares_memory, start_method, worker_map

PAGES = 24
# Columns that say when a file was read or a row written, or in which run, not what it holds.
RUN_COLUMNS = {"run_id", "created_at", "detected_at", "fetched_at", "finished_at", "first_seen_at", "loaded_at",
               "seen_at", "started_at", "updated_at"}
# Whole tables about the run itself (timings, run ids as keys).
RUN_TABLES = {"ingest_runs", "run_source_counts"}


def _pid(_: object) -> int:
    time.sleep(0.02)  # work that takes a moment, so one worker cannot drain the queue before the other starts
    return os.getpid()


def _nothing() -> None:
    return None


def test_a_pool_of_two_runs_the_work_in_two_other_processes_in_order() -> None:
    with worker_map(2, 64, _nothing) as ordered:
        pids = list(ordered(_pid, range(64)))
        assert list(ordered(abs, range(-32, 0))) == [abs(n) for n in range(-32, 0)]
    assert len(set(pids)) == 2 and os.getpid() not in pids


def test_workers_start_from_a_clean_process_when_another_thread_runs() -> None:
    """Forking beside a running thread (the tests' HTTP server, say) can crash a worker: the pool must not fork then."""
    stop = threading.Event()
    beside = threading.Thread(target=stop.wait)
    beside.start()
    try:
        assert start_method() != "fork"
        assert not shares_memory(2, 16) and shares_memory(2, 5)  # what this process loads reaches no new worker
        with worker_map(2, 16, _nothing) as ordered:
            pids = set(ordered(_pid, range(16)))
    finally:
        stop.set()
        beside.join()
    assert os.getpid() not in pids and len(pids) == 2


def test_a_batch_too_small_to_share_stays_in_process() -> None:
    assert shares_memory(8, 5)  # in-process; a pool shares only when it forks (no other thread running)
    assert shares_memory(2, 64) == (start_method() == "fork")
    with worker_map(8, 5, _nothing) as ordered:
        assert set(ordered(_pid, range(5))) == {os.getpid()}


def snapshot(db_path: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = {}
        for table in sorted(set(DATA_TABLES) - RUN_TABLES):
            columns = [name for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table]).fetchall() if name not in RUN_COLUMNS]
            quoted = ", ".join(f'"{column}"' for column in columns)
            tables[table] = sorted(map(repr, con.execute(f"SELECT {quoted} FROM {table}").fetchall()))
        return tables
    finally:
        con.close()


@pytest.fixture(scope="module")
def news_folder(shared_dir: Path, seeds_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pages") / "input"
    folder.mkdir()
    pages = sorted((shared_dir / "corpora" / "news-html").rglob("*.html"))[:PAGES]
    for index, page in enumerate(pages):
        shutil.copy(page, folder / f"{index:03d}_{page.name}")
    for seed in seeds_dir.iterdir():
        shutil.copy(seed, folder / seed.name)
    return folder


def test_one_and_two_workers_load_the_same_tables(news_folder: Path, tmp_path: Path) -> None:
    loaded = {}
    for workers in (1, 2):
        settings = Settings.from_env(db_path=tmp_path / f"w{workers}" / "news.duckdb", seeds_dir=news_folder,
                                     staging_dir=tmp_path / f"w{workers}" / "staging", workers=workers)
        counts = ingest_folder(settings)
        assert counts.inputs == PAGES + 5
        loaded[workers] = snapshot(settings.db_path)
    assert len(loaded[1]["articles"]) > PAGES // 2 and loaded[1]["entity_mentions"] and loaded[1]["quotes"]
    for table in loaded[1]:
        assert loaded[1][table] == loaded[2][table], table
