"""Per-host manners: concurrency slots, a least delay between request starts, and honouring Retry-After."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_SECONDS = 7 * 24 * 3600  # a server asking for more is treated as asking for a week
_RETRY_AFTER_SECONDS = re.compile(r"^\s*(\d{1,10})\s*$")


class HostLimiter:
    """Per-host concurrency slots, a least delay between request starts, and Retry-After deferrals."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._concurrency = concurrency
        self._delay = delay
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._deferred_until: dict[str, float] = {}

    def _semaphore(self, host: str) -> threading.Semaphore:
        """The host's slots, created on first use (hosts are not known up front)."""
        with self._lock:
            return self._slots.setdefault(host, threading.BoundedSemaphore(self._concurrency))

    @contextmanager
    def slot(self, host: str, gate: threading.Semaphore | None = None) -> Iterator[None]:
        """Hold one of the host's slots, starting no sooner than `delay` after the previous start there.

        With a `gate` (the requests in flight over all hosts) the start is when the gate is held too: a wait
        at the gate never eats into the host's delay, and a wait for the delay never holds the gate.
        """
        with self._semaphore(host):
            while True:
                with self._lock:
                    wait = self._next_start.get(host, 0.0) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if gate is not None:
                    gate.acquire()
                with self._lock:
                    now = time.monotonic()
                    if now >= self._next_start.get(host, 0.0):  # no other slot of this host started meanwhile
                        self._next_start[host] = now + self._delay
                        break
                if gate is not None:
                    gate.release()
            try:
                yield
            finally:
                if gate is not None:
                    gate.release()

    def defer(self, host: str, seconds: float) -> None:
        """The host asked us (429/503 Retry-After) to stay away for `seconds`."""
        with self._lock:
            self._deferred_until[host] = max(self._deferred_until.get(host, 0.0), time.monotonic() + seconds)

    def deferred_for(self, host: str) -> float | None:
        """Seconds this host still asked us to wait, or None."""
        with self._lock:
            left = self._deferred_until.get(host, 0.0) - time.monotonic()
        return left if left > 0 else None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    if match := _RETRY_AFTER_SECONDS.match(value):
        return float(min(int(match.group(1)), MAX_RETRY_AFTER_SECONDS))
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return float(min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS))
