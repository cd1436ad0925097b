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

import pytest
from table_snapshot import snapshot

from pipelines.config import Settings
from pipelines.pipeline import ingest_folder
from pipelines.workers import shares_memory, start_method, worker_map, worker_pool

PAGES = 24


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


def test_a_pool_for_pieces_that_arrive_one_by_one_runs_them_in_its_workers_or_in_process() -> None:
    """worker_pool: the shape a poll round uses, pieces submitted as its feeds are read; one worker means in-process."""
    with worker_pool(2) as pool:
        pids = {future.result() for future in [pool.submit(_pid, n) for n in range(32)]}
        failed = pool.submit(int, "not a number")
        with pytest.raises(ValueError):
            failed.result()  # a piece's error reaches whoever reads its result
    assert len(pids) == 2 and os.getpid() not in pids
    with worker_pool(1) as inline:
        assert inline.submit(_pid, 0).result() == os.getpid()
        assert isinstance(inline.submit(int, "x").exception(), ValueError)


def test_a_batch_too_small_to_share_stays_in_process() -> None:
    assert shares_memory(8, 5)  # in-process; a pool shares only when it forks (no other thread running)
    assert shares_memory(2, 64) == (start_method() == "fork")
    with worker_map(8, 5, _nothing) as ordered:
        assert set(ordered(_pid, range(5))) == {os.getpid()}


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


@pytest.mark.slow
def test_one_and_two_workers_load_the_same_tables(news_folder: Path, tmp_path: Path) -> None:
    loaded = {}
    for workers in (1, 2):
        settings = Settings.from_env(
            db_path=tmp_path / f"w{workers}" / "news.duckdb",
            seeds_dir=news_folder,
            staging_dir=tmp_path / f"w{workers}" / "staging",
            workers=workers,
        )
        counts = ingest_folder(settings)
        assert counts.inputs == PAGES + 5
        loaded[workers] = snapshot(settings.db_path)
    assert len(loaded[1]["articles"]) > PAGES // 2 and loaded[1]["entity_mentions"] and loaded[1]["quotes"]
    for table in loaded[1]:
        assert loaded[1][table] == loaded[2][table], table
