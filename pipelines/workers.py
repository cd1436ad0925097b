"""Worker processes for a stage's CPU work (extraction, normalization, the spaCy parse).

Two shapes. `worker_map`, an ordered `map` over a batch known up front (a folder): the caller's
`prepare` (loading the models) runs in the parent before the workers fork, so they start at once and
share what it loaded; where forking is unsafe or missing each worker runs it once. Results come back in
input order, and a batch too small to share runs in-process, so the output never depends on the number
of workers: the callers decide whatever needs the whole batch between rounds. `worker_pool`, an
executor for work that arrives piece by piece (a poll round's pages, as their feeds are read): its
workers start at once, before the caller's own threads, and load what they need on their first piece.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

# Fewer items than this per worker and the pool costs more than it saves.
MIN_ITEMS_PER_WORKER = 4
# Each round is cut into this many pieces per worker, so one slow page does not leave the others idle.
CHUNKS_PER_WORKER = 16

Mapper = Callable[..., Iterable[Any]]
P = ParamSpec("P")
T = TypeVar("T")


def worker_count(workers: int, items: int) -> int:
    """The processes a batch of `items` gets: at most `workers`, and none when it is too small to share."""
    return max(1, min(workers, items // MIN_ITEMS_PER_WORKER))


def start_method() -> str:
    """fork when this process runs no other thread: instant, and the workers share what it loaded.

    Forking while another thread runs (a server, a client's pool) can copy a half-changed object into
    a worker, which then crashes; then the workers start from a clean process (forkserver, or spawn).
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def shares_memory(workers: int, items: int) -> bool:
    """Whether what this process loads now reaches the work of `worker_map(workers, items)`: in-process, or forked."""
    return worker_count(workers, items) == 1 or start_method() == "fork"


@contextmanager
def worker_map(workers: int, items: int, prepare: Callable[[], object] | None = None) -> Iterator[Mapper]:
    """An ordered map over `workers` processes (the builtin map when one is enough); the pool ends with the block.

    Like the builtin, the map returns at once: every chunk is submitted, and the caller may do other
    work before it collects the results.
    """
    processes = worker_count(workers, items)
    if processes == 1:
        yield map
        return
    start = start_method()
    if start == "fork" and prepare:
        prepare()  # once, here: the workers inherit it
        prepare = None
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context(start), initializer=prepare) as pool:

        def ordered_map(fn: Callable[..., Any], *iterables: Iterable[Any]) -> Iterable[Any]:
            columns = [list(iterable) for iterable in iterables]
            chunk = max(1, len(columns[0]) // (processes * CHUNKS_PER_WORKER)) if columns else 1
            return pool.map(fn, *columns, chunksize=chunk)

        yield ordered_map


class InlineExecutor(Executor):
    """Runs each piece when it is submitted, in this process: `worker_pool` with one worker."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


@contextmanager
def worker_pool(workers: int) -> Iterator[Executor]:
    """`workers` processes, started now, for pieces submitted as they come; in-process with one.

    Call it before starting threads of your own: forked workers are safe and instant only then (with
    other threads running they start from a clean process instead, see `start_method`). On an error the
    pieces not yet started are dropped rather than waited for.
    """
    if workers <= 1:
        yield InlineExecutor()
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(start_method()))
    try:
        pool.submit(int).result()  # the first piece starts the workers (all of them at once when forking)
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
