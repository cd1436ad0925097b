"""robots.txt: each site's rules read once, kept (and persisted) as long as RFC 9309 and the site allow, and obeyed.

The cache only decides; fetching robots.txt is handed in as a callable so it runs through the same
guarded transport and limits as every other request. What a cache fetched comes out as
`RobotsRecord` rows (table `robots_cache`), and a later run's cache starts from them, so separate
CLI runs and Airflow tasks do not fetch a site's robots.txt on every poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from pipelines.http.outcome import SITE_UNREACHABLE, FetchResult, Outcome, failure

ROBOTS_AGENT = "newsflow"  # the product token robots.txt groups are matched against
ROBOTS_ACCEPT = "text/plain, */*;q=0.5"
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 2.5: parse at least the first 500 KiB
MAX_ROBOTS_AGE = timedelta(hours=24)  # RFC 9309 2.4: a cached robots.txt SHOULD NOT be used for longer
UNREACHABLE_AGE = timedelta(minutes=10)  # a 5xx or unreachable robots.txt means "stay out": ask again soon
_NOT_STORED = frozenset({"no-store", "no-cache"})  # directives that forbid reusing the response later


@dataclass(frozen=True, slots=True)
class RobotsRecord:
    """What one site's robots.txt fetch gave, as stored in `robots_cache`; usable until `expires_at`."""

    origin: str
    fetched_at: datetime
    expires_at: datetime
    http_status: int | None
    outcome: str
    body: str | None
    note: str | None

    def fresh(self, now: datetime) -> bool:
        return now < self.expires_at


@dataclass(frozen=True, slots=True)
class RobotsVerdict:
    """A site's robots.txt rules, the outcome a refused URL gets, and why everything is refused (if so)."""

    rules: RobotFileParser
    refusal: Outcome = Outcome.ROBOTS_DISALLOWED
    note: str = ""


def cache_lifetime(headers: Mapping[str, str], now: datetime) -> timedelta:
    """How long a response may be reused by its cache headers: Cache-Control max-age, else Expires, at most a day."""
    directives = {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        directives[name.strip().lower()] = value.strip().strip('"')
    if _NOT_STORED & directives.keys():
        return timedelta(0)
    if directives.get("max-age", "").isdigit():
        return min(timedelta(seconds=int(directives["max-age"])), MAX_ROBOTS_AGE)
    if "expires" not in headers:
        return MAX_ROBOTS_AGE
    try:
        expires = parsedate_to_datetime(headers["expires"])
    except (TypeError, ValueError):
        return timedelta(0)  # RFC 9111 5.3: an invalid date (e.g. "0") means already expired
    if expires.tzinfo is None:  # RFC 9110 dates are GMT; a malformed one without a zone is read as such
        expires = expires.replace(tzinfo=UTC)
    return min(max(expires - now, timedelta(0)), MAX_ROBOTS_AGE)


def unavailable(outcome: Outcome, status: int | None) -> bool:
    """RFC 9309 2.3.1.3: a 4xx answer for robots.txt means the site has no rules."""
    return outcome is Outcome.HTTP_ERROR and status is not None and 400 <= status < 500


def robots_record(site: str, result: FetchResult, now: datetime) -> RobotsRecord:
    """RFC 9309 2.3.1 and 2.4: a read file or a 4xx is kept as its headers allow, anything else only briefly."""
    readable = result.ok and result.body is not None
    kept = readable or unavailable(result.outcome, result.status)
    lifetime = cache_lifetime(result.headers, now) if kept else UNREACHABLE_AGE
    body = result.body.decode("utf-8", "replace") if readable and result.body is not None else None
    return RobotsRecord(site, now, now + lifetime, result.status, result.outcome.value, body, result.note or None)


def robots_verdict(record: RobotsRecord) -> RobotsVerdict:
    """RFC 9309 2.3.1: a readable file is obeyed, 4xx means no rules, anything else means keep out for now."""
    rules = RobotFileParser()
    outcome = Outcome(record.outcome)
    if outcome is Outcome.OK and record.body is not None:
        rules.parse(record.body.splitlines())
        return RobotsVerdict(rules)
    if unavailable(outcome, record.http_status):
        rules.allow_all = True  # type: ignore[attr-defined]  # typeshed lacks this attribute of RobotFileParser
        return RobotsVerdict(rules)
    rules.disallow_all = True  # type: ignore[attr-defined]  # typeshed lacks this attribute of RobotFileParser
    if outcome in SITE_UNREACHABLE:  # the page itself would fail the same way: say so, not "robots"
        return RobotsVerdict(rules, outcome, f"robots.txt: {record.note}")
    return RobotsVerdict(rules, note=f"robots.txt unreachable ({outcome}: {record.note}); RFC 9309: stay out for now")


def origin(url: str) -> str:
    """scheme://host:port, the scope of one robots.txt (RFC 9309 2.3)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class RobotsCache:
    """Verdicts per origin (a per-origin lock: no duplicate fetches). Thread-safe.

    A site's robots.txt is fetched at most once per cache; records handed in with `remember` (what
    earlier runs stored) stand in for a fetch until they expire.
    """

    def __init__(self, fetch_robots: Callable[[str], FetchResult]) -> None:
        self._fetch_robots = fetch_robots
        self._known: dict[str, RobotsRecord] = {}
        self._fetched: dict[str, RobotsRecord] = {}
        self._verdicts: dict[str, tuple[RobotsRecord, RobotsVerdict]] = {}  # parsed once per record
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def remember(self, records: Iterable[RobotsRecord]) -> None:
        """Take stored records as this cache's starting point; a newer record of a site wins."""
        with self._lock:
            for record in records:
                known = self._known.get(record.origin)
                if known is None or known.fetched_at < record.fetched_at:
                    self._known[record.origin] = record

    def fetched(self) -> list[RobotsRecord]:
        """The records this cache fetched itself: what the run stores for the next one."""
        with self._lock:
            return sorted(self._fetched.values(), key=lambda record: record.origin)

    def refusal(self, url: str, current: str) -> FetchResult | None:
        """A refusal when robots.txt of `current`'s site disallows it (or could not be read), else None."""
        verdict = self._verdict(origin(current))
        if verdict.rules.can_fetch(ROBOTS_AGENT, current):
            return None
        note = verdict.note or f"robots.txt disallows {urlsplit(current).path or '/'} for {ROBOTS_AGENT}"
        return failure(url, current, verdict.refusal, note)

    def sitemaps(self, url: str) -> list[str]:
        """The `Sitemap:` lines of the robots.txt of `url`'s site."""
        return list(self._verdict(origin(url)).rules.site_maps() or [])

    def _verdict(self, site: str) -> RobotsVerdict:
        with self._lock:
            lock = self._locks.setdefault(site, threading.Lock())
        with lock:
            record = self._fetched.get(site)
            if record is None:
                now = datetime.now(UTC)
                known = self._known.get(site)
                if known is not None and known.fresh(now):
                    record = known
                else:
                    record = self._fetched[site] = robots_record(site, self._fetch_robots(f"{site}/robots.txt"), now)
            parsed = self._verdicts.get(site)
            if parsed is None or parsed[0] is not record:
                parsed = self._verdicts[site] = (record, robots_verdict(record))
            return parsed[1]
