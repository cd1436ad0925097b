"""The pipeline's one door to HTTP: `Fetcher` with its `FetchPolicy`, for feeds and article pages.

`Fetcher` never raises for network or HTTP problems: each fetch ends in a `FetchResult` with one
`Outcome` and a human-readable note, so a hostile or broken server costs one recorded outcome and
never stalls or aborts a batch. Redirects are followed by hand so every hop passes the scheme,
robots and address checks; the address guard and the deadline sit below httpx (`guard`), bodies are
read with a decoded-size cap (`body`), and per-host manners live in `manners`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from pipelines.config import Settings
from pipelines.http.body import ACCEPT_ENCODING, read_body
from pipelines.http.guard import AllowList, deadline, guarded_transport
from pipelines.http.manners import HostLimiter, parse_retry_after
from pipelines.http.outcome import FetchRefused, FetchResult, Outcome, failure
from pipelines.http.robots import (
    ROBOTS_ACCEPT,
    ROBOTS_MAX_BYTES,
    RobotsCache,
    RobotsRecord,
)
from pipelines.urls import host_of


def _package_version() -> str:
    """The installed newsflow version for the User-Agent; a source checkout without metadata says 'dev'."""
    try:
        return version("newsflow")
    except PackageNotFoundError:
        return "dev"


USER_AGENT = f"newsflow/{_package_version()} (+https://github.com/newsflow/newsflow)"

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9,"
    " application/xml;q=0.8,"
    " text/xml;q=0.8, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_TOTAL_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_PER_HOST_CONCURRENCY = 2
DEFAULT_PER_HOST_DELAY = 1.0
DEFAULT_MAX_WORKERS = 8
# Requests in flight at once across all hosts: a poll round reads many sites at a time, each within its manners.
DEFAULT_CONCURRENCY = 32

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_LATER_STATUSES = frozenset({429, 503})
ALLOWED_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits and manners for every HTTP request of a run; built once (`from_settings`) and shared by all fetches.

    `total_timeout` is the network time one fetch may use, all redirect hops included; waiting for a
    per-host slot does not count. `per_host_delay` is the least time between two request starts on a host.
    `concurrency` bounds the requests in flight across all hosts (a thread waiting out a host's delay holds
    none); `max_workers` is the threads one `fetch_many` call uses.
    """

    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    user_agent: str = USER_AGENT
    per_host_concurrency: int = DEFAULT_PER_HOST_CONCURRENCY
    per_host_delay: float = DEFAULT_PER_HOST_DELAY
    max_workers: int = DEFAULT_MAX_WORKERS
    concurrency: int = DEFAULT_CONCURRENCY
    respect_robots: bool = True
    allow_hosts: AllowList = field(default_factory=AllowList)

    def __post_init__(self) -> None:
        """Refuse impossible limits at construction, not at the first fetch."""
        if min(self.connect_timeout, self.read_timeout, self.total_timeout) <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_bytes <= 0 or self.max_redirects < 0:
            raise ValueError("max_bytes must be positive and max_redirects not negative")
        if min(self.per_host_concurrency, self.max_workers, self.concurrency) < 1 or self.per_host_delay < 0:
            raise ValueError("per_host_concurrency, max_workers and concurrency must be >= 1, per_host_delay >= 0")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> FetchPolicy:
        """The run's allow-list and concurrency from Settings (ValueError on a malformed CIDR), then overrides."""
        values: dict[str, Any] = {
            "allow_hosts": AllowList.parse(settings.allow_hosts),
            "concurrency": settings.fetch_concurrency,
        }
        values.update(overrides)
        return cls(**values)


def outcome_for_status(status: int) -> Outcome:
    """The outcome of a final (non-redirect) response status."""
    if status == 304:
        return Outcome.NOT_MODIFIED
    if status in RETRY_LATER_STATUSES:
        return Outcome.RETRY_LATER
    if 200 <= status < 300:
        return Outcome.OK
    return Outcome.HTTP_ERROR


def _header_dict(headers: httpx.Headers) -> dict[str, str]:
    """Lower-case keys; a repeated header's values joined by ', ' as feedparser expects."""
    joined: dict[str, str] = {}
    for key, value in headers.multi_items():
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def _url_refusal(url: str, current: str) -> FetchResult | None:
    """A failure for URLs no request should be made for: other schemes, no host, unparsable."""
    try:
        parts = urlsplit(current)
        has_host = bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return failure(url, current, Outcome.NETWORK_ERROR, f"unparsable URL: {exc}")
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        return failure(url, current, Outcome.BLOCKED_SCHEME, f"scheme {scheme or '(none)'!r} is not http(s)")
    return None if has_host else failure(url, current, Outcome.NETWORK_ERROR, "URL has no host")


class Fetcher:
    """One httpx client, a robots.txt cache and per-host limits, shared by every fetch of a run.

    Thread-safe: `fetch_many` runs fetches in a pool, and a poll round calls it from many threads; per-host
    slots keep each site's load polite and `policy.concurrency` bounds the requests in flight over all sites.
    Without a policy it uses the defaults (nothing allow-listed); it never reads the environment.
    """

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self._client = httpx.Client(
            transport=guarded_transport(
                self.policy.allow_hosts,
                max_connections=self.policy.concurrency,
                max_keepalive=self.policy.concurrency,
            ),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(
                connect=self.policy.connect_timeout,
                read=self.policy.read_timeout,
                write=self.policy.read_timeout,
                pool=self.policy.total_timeout,
            ),
            headers={"User-Agent": self.policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )
        self._limiter = HostLimiter(self.policy.per_host_concurrency, self.policy.per_host_delay)
        # Held only while a request is on the wire (`HostLimiter.slot`): never by a thread that waits out a host's
        # delay, and never longer than a connection of the pool (sized the same) is.
        self._in_flight = threading.BoundedSemaphore(self.policy.concurrency)
        self._robots = RobotsCache(
            lambda robots_url: self._follow(robots_url, {"Accept": ROBOTS_ACCEPT}, ROBOTS_MAX_BYTES, check_robots=False)
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def remember_robots(self, records: Iterable[RobotsRecord]) -> None:
        """Start from robots.txt records earlier runs stored: a fresh one saves fetching that site's robots.txt."""
        self._robots.remember(records)

    def fetched_robots(self) -> list[RobotsRecord]:
        """The robots.txt records this fetcher fetched, for the run to store."""
        return self._robots.fetched()

    def robots_sitemaps(self, url: str) -> list[str]:
        """The sitemaps the robots.txt of `url`'s site names (fetching it if no fresh record is known)."""
        return self._robots.sitemaps(url)

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, accept: str = FEED_ACCEPT
    ) -> FetchResult:
        """GET `url` (conditionally when validators are given); never raises for network or HTTP trouble."""
        started = time.monotonic()
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        result = self._follow(url, headers, self.policy.max_bytes, check_robots=self.policy.respect_robots)
        result.elapsed_ms = int((time.monotonic() - started) * 1000)
        return result

    def fetch_many(self, urls: Sequence[str], *, accept: str = PAGE_ACCEPT) -> list[FetchResult]:
        """Fetch `urls` concurrently (per-host limits still apply); results in the order of `urls`."""
        if not urls:
            return []
        with ThreadPoolExecutor(
            max_workers=min(self.policy.max_workers, len(urls)), thread_name_prefix="fetch"
        ) as pool:
            return list(pool.map(lambda url: self.fetch(url, accept=accept), urls))

    def _follow(self, url: str, headers: dict[str, str], max_bytes: int, *, check_robots: bool) -> FetchResult:
        """`_hops`, stamped with the time its first request went out (or, refused unsent, the time it was refused)."""
        sent: list[datetime] = []
        result = self._hops(url, headers, max_bytes, sent, check_robots=check_robots)
        result.requested_at = sent[0] if sent else datetime.now(UTC)
        return result

    def _hops(
        self, url: str, headers: dict[str, str], max_bytes: int, sent: list[datetime], *, check_robots: bool
    ) -> FetchResult:
        """Request `url`, following redirects by hand so every hop passes the scheme, robots and address checks.

        The wall time of each request is appended to `sent` once its per-host slot is taken.
        """
        budget = self.policy.total_timeout
        current = url
        seen = {url}
        for _hop in range(self.policy.max_redirects + 1):
            if refusal := _url_refusal(url, current):
                return refusal
            if check_robots and (refusal := self._robots.refusal(url, current)):
                return refusal
            host = host_of(current)
            if (wait := self._limiter.deferred_for(host)) is not None:
                note = f"{host} asked (Retry-After) to wait {wait:.0f}s more; not requested"
                return FetchResult(url, current, None, Outcome.RETRY_LATER, retry_after_seconds=wait, note=note)
            with self._limiter.slot(host, self._in_flight):
                sent.append(datetime.now(UTC))
                hop_started = time.monotonic()
                result, location = self._request(url, current, headers, max_bytes, budget)
                budget -= time.monotonic() - hop_started
            if result.outcome is Outcome.RETRY_LATER:
                self._limiter.defer(host, result.retry_after_seconds or 0.0)
            if location is None:
                return result
            current = urljoin(current, location)
            if current in seen:
                return failure(url, current, Outcome.REDIRECT_LOOP, f"redirect loop back to {current}", result.status)
            seen.add(current)
        return failure(url, current, Outcome.REDIRECT_LOOP, f"more than {self.policy.max_redirects} redirects")

    def _request(
        self, url: str, current: str, headers: dict[str, str], max_bytes: int, budget: float
    ) -> tuple[FetchResult, str | None]:
        """One HTTP exchange within `budget` seconds: the result, and the Location to follow if it redirects."""
        if budget <= 0:
            return failure(url, current, Outcome.TIMEOUT, "total fetch time exceeded across redirects"), None
        status: int | None = None
        try:
            with deadline(budget), self._client.stream("GET", current, headers=headers) as response:
                status = response.status_code
                location = response.headers.get("location")
                if status in REDIRECT_STATUSES and location:
                    return failure(url, current, Outcome.HTTP_ERROR, f"redirect to {location}", status), location
                outcome = outcome_for_status(status)
                body, size = read_body(response, max_bytes) if outcome is Outcome.OK else (None, 0)
                return self._response_result(url, current, response, outcome, body, size), None
        except FetchRefused as exc:
            return failure(url, current, exc.outcome, exc.note, status, exc.bytes_read), None
        except httpx.TimeoutException as exc:
            return failure(url, current, Outcome.TIMEOUT, f"{type(exc).__name__}: {exc}", status), None
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, ValueError) as exc:
            return failure(url, current, Outcome.NETWORK_ERROR, f"{type(exc).__name__}: {exc}", status), None

    @staticmethod
    def _response_result(
        url: str, current: str, response: httpx.Response, outcome: Outcome, body: bytes | None, size: int
    ) -> FetchResult:
        """The result of a final response, with validators for the next conditional GET and any Retry-After."""
        headers = _header_dict(response.headers)
        retry_after = parse_retry_after(headers.get("retry-after")) if outcome is Outcome.RETRY_LATER else None
        return FetchResult(
            url=url,
            final_url=current,
            status=response.status_code,
            outcome=outcome,
            body=body,
            headers=headers,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            retry_after_seconds=retry_after,
            bytes_read=size,
            note=""
            if outcome in (Outcome.OK, Outcome.NOT_MODIFIED)
            else f"HTTP {response.status_code} {response.reason_phrase}",
        )
