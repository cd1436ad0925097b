"""robots.txt: each site's rules fetched once per Fetcher and obeyed, with RFC 9309's failure rules.

The cache only decides; fetching robots.txt is handed in as a callable so it runs through the same
guarded transport and limits as every other request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from pipelines.http.outcome import SITE_UNREACHABLE, FetchResult, Outcome, failure

ROBOTS_AGENT = "newsflow"  # the product token robots.txt groups are matched against
ROBOTS_ACCEPT = "text/plain, */*;q=0.5"
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 2.5: parse at least the first 500 KiB


@dataclass(frozen=True, slots=True)
class RobotsVerdict:
    """A site's robots.txt rules, the outcome a refused URL gets, and why everything is refused (if so)."""

    rules: RobotFileParser
    refusal: Outcome = Outcome.ROBOTS_DISALLOWED
    note: str = ""


def robots_verdict(result: FetchResult) -> RobotsVerdict:
    """RFC 9309 2.3.1: a readable file is obeyed, 4xx means no rules, anything else means keep out for now."""
    rules = RobotFileParser()
    if result.ok and result.body is not None:
        rules.parse(result.body.decode("utf-8", "replace").splitlines())
        return RobotsVerdict(rules)
    if result.outcome is Outcome.HTTP_ERROR and result.status is not None and 400 <= result.status < 500:
        rules.allow_all = True
        return RobotsVerdict(rules)
    rules.disallow_all = True
    if result.outcome in SITE_UNREACHABLE:  # the page itself would fail the same way: say so, not "robots"
        return RobotsVerdict(rules, result.outcome, f"robots.txt: {result.note}")
    return RobotsVerdict(rules, note=f"robots.txt unreachable ({result.outcome}: {result.note}); RFC 9309: stay out for now")


def origin(url: str) -> str:
    """scheme://host:port, the scope of one robots.txt (RFC 9309 2.3)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class RobotsCache:
    """Verdicts per origin, each robots.txt fetched once (a per-origin lock: no duplicate fetches). Thread-safe."""

    def __init__(self, fetch_robots: Callable[[str], FetchResult]) -> None:
        self._fetch_robots = fetch_robots
        self._verdicts: dict[str, RobotsVerdict] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def refusal(self, url: str, current: str) -> FetchResult | None:
        """A refusal when robots.txt of `current`'s site disallows it (or could not be read), else None."""
        verdict = self._verdict(origin(current))
        if verdict.rules.can_fetch(ROBOTS_AGENT, current):
            return None
        note = verdict.note or f"robots.txt disallows {urlsplit(current).path or '/'} for {ROBOTS_AGENT}"
        return failure(url, current, verdict.refusal, note)

    def _verdict(self, site: str) -> RobotsVerdict:
        with self._lock:
            lock = self._locks.setdefault(site, threading.Lock())
        with lock:
            if site not in self._verdicts:
                self._verdicts[site] = robots_verdict(self._fetch_robots(f"{site}/robots.txt"))
            return self._verdicts[site]
