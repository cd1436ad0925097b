"""HTTP fetching of feeds and article pages, and feed parsing from the fetched bytes.

Everything that crosses the network goes through `Fetcher`, which never raises for network or HTTP
problems: each fetch ends in a `FetchResult` with one `Outcome` and a human-readable note, so a
hostile or broken server costs one recorded outcome and never stalls or aborts a batch.

Limits live below httpx, in the connection layer, because that is the only place where they cannot
be bypassed: every TCP connection (first request, each redirect hop, robots.txt) resolves the host
itself, refuses private/loopback/link-local/metadata addresses unless allow-listed, and connects to
the very address it checked (no DNS-rebinding window); every socket read and write gets at most the
time left of the fetch's total budget, so a slow-drip server runs into the deadline even while it
drips headers. Bodies are read raw and decompressed here with a cap on decoded bytes (gzip bombs),
redirects are followed by hand (each hop re-checked), and feedparser only ever receives bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import math
import os
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import feedparser
import httpcore
import httpx

from pipelines.urls import canonical_url_or_none


def _package_version() -> str:
    """The installed newsflow version for the User-Agent; a source checkout without metadata says 'dev'."""
    try:
        return version("newsflow")
    except PackageNotFoundError:
        return "dev"


USER_AGENT = f"newsflow/{_package_version()} (+https://github.com/newsflow/newsflow)"
ROBOTS_AGENT = "newsflow"  # the product token robots.txt groups are matched against
ALLOW_HOSTS_ENV = "NEWSFLOW_ALLOW_HOSTS"

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
ROBOTS_ACCEPT = "text/plain, */*;q=0.5"
# Only encodings decoded here with a cap; advertising br/zstd would hand us bodies we cannot bound.
ACCEPT_ENCODING = "gzip, deflate"

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_TOTAL_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_PER_HOST_CONCURRENCY = 2
DEFAULT_PER_HOST_DELAY = 1.0
DEFAULT_MAX_WORKERS = 8
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 2.5: parse at least the first 500 KiB
MAX_RETRY_AFTER_SECONDS = 7 * 24 * 3600  # a server asking for more is treated as asking for a week
READ_CHUNK_BYTES = 16 * 1024
MAX_DECOMPRESS_STEP = 64 * 1024  # decoded bytes produced per zlib call, so a bomb never inflates at once

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_LATER_STATUSES = frozenset({429, 503})
ALLOWED_SCHEMES = frozenset({"http", "https"})
GZIP_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})
IDENTITY_ENCODINGS = frozenset({"", "identity"})
# Cloud metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba) named so a refusal says why.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not global

_RETRY_AFTER_SECONDS = re.compile(r"^\s*(\d{1,10})\s*$")

# The deadline (time.monotonic) of the fetch running in this thread; read by every socket operation.
_DEADLINE: ContextVar[float] = ContextVar("newsflow_fetch_deadline", default=math.inf)


class Outcome(StrEnum):
    """How a fetch ended; stored as text in fetch_events, so the values are a fixed vocabulary."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    HTTP_ERROR = "http_error"
    RETRY_LATER = "retry_later"
    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    REDIRECT_LOOP = "redirect_loop"
    BLOCKED_ADDRESS = "blocked_address"
    BLOCKED_SCHEME = "blocked_scheme"
    ROBOTS_DISALLOWED = "robots_disallowed"
    DECODE_ERROR = "decode_error"
    NETWORK_ERROR = "network_error"


# robots.txt failures that say the site itself cannot be reached (or asked us to wait): the page gets this outcome.
SITE_UNREACHABLE = frozenset({Outcome.TIMEOUT, Outcome.NETWORK_ERROR, Outcome.BLOCKED_ADDRESS, Outcome.RETRY_LATER})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# --- policy ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllowList:
    """Hosts and address ranges an operator vouches for, exempt from the private-address guard.

    A host name is trusted whatever it resolves to (an intranet feed server); an IP or CIDR exempts
    those addresses for any host name that resolves into them (tests use 127.0.0.1).
    """

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """'127.0.0.1, 10.0.0.0/8, feeds.intranet' -> AllowList; raises ValueError on a malformed CIDR."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for item in (part.strip().lower() for part in text.split(",")):
            if not item:
                continue
            if "/" in item or _is_ip_literal(item):
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            else:
                hosts.add(item.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def permits(self, host: str, address: IPAddress) -> bool:
        """True when the operator allow-listed this host name or a range holding this address."""
        return host.lower().rstrip(".") in self.hosts or any(address in network for network in self.networks)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits and manners for every HTTP request of a run; built once (`from_env`) and shared by all fetches.

    `total_timeout` is the network time one fetch may use, all redirect hops included; waiting for a
    per-host slot does not count. `per_host_delay` is the least time between two request starts on a host.
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
    respect_robots: bool = True
    allow_hosts: AllowList = field(default_factory=AllowList)

    def __post_init__(self) -> None:
        """Refuse impossible limits at construction, not at the first fetch."""
        if min(self.connect_timeout, self.read_timeout, self.total_timeout) <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_bytes <= 0 or self.max_redirects < 0:
            raise ValueError("max_bytes must be positive and max_redirects not negative")
        if self.per_host_concurrency < 1 or self.max_workers < 1 or self.per_host_delay < 0:
            raise ValueError("per_host_concurrency and max_workers must be >= 1, per_host_delay >= 0")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> FetchPolicy:
        """NEWSFLOW_ALLOW_HOSTS from the environment, then explicit overrides; None means 'not given'.

        An `allow_hosts` override may be the setting's text ("127.0.0.1, feeds.intranet") or an AllowList.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {"allow_hosts": env.get(ALLOW_HOSTS_ENV, "")}
        values.update({key: value for key, value in overrides.items() if value is not None})
        if isinstance(values["allow_hosts"], str):
            values["allow_hosts"] = AllowList.parse(values["allow_hosts"])
        return cls(**values)


# --- results ---------------------------------------------------------------------------------


@dataclass(slots=True)
class FetchResult:
    """What one fetch did and got; `body` is set only for outcome 'ok'."""

    url: str
    final_url: str
    status: int | None
    outcome: Outcome
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    retry_after_seconds: float | None = None
    elapsed_ms: int = 0
    bytes_read: int = 0
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def content_sha256(self) -> str | None:
        """Hash of the decoded body, stored per feed so an unchanged body costs no further work."""
        return hashlib.sha256(self.body).hexdigest() if self.body is not None else None


class FetchRefused(Exception):
    """A limit or guard stopped a fetch; carries the outcome to record. Never escapes `Fetcher.fetch`."""

    def __init__(self, outcome: Outcome, note: str, bytes_read: int = 0) -> None:
        super().__init__(note)
        self.outcome = outcome
        self.note = note
        self.bytes_read = bytes_read


# --- address guard ---------------------------------------------------------------------------


def _is_ip_literal(text: str) -> bool:
    """Whether an allow-list item is an address (exempt by range) rather than a host name (exempt by name)."""
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def blocked_reason(address: IPAddress) -> str | None:
    """Why a fetcher must not connect to `address` by default (internal services, metadata), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return blocked_reason(address.ipv4_mapped)
    checks = (
        (address in METADATA_ADDRESSES, "cloud metadata"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (address in SHARED_ADDRESS_SPACE, "shared (CGNAT)"),
        (not address.is_global, "not globally routable"),
    )
    return next((reason for hit, reason in checks if hit), None)


def _resolve(host: str, port: int) -> list[IPAddress]:
    """All addresses `host` resolves to, in the resolver's preferred order (a literal IP resolves to itself)."""
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _remaining() -> float:
    """Seconds left of this thread's fetch budget; raising here turns a slow drip into a timeout."""
    left = _DEADLINE.get() - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("total fetch time exceeded")
    return left


def _capped(timeout: float | None) -> float:
    """httpcore's per-operation timeout, shortened to what is left of the fetch's total budget."""
    left = _remaining()
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read/write waits at most until the fetch's total deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> _DeadlineStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _capped(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks and connects in one place, so the address checked is the address used."""

    def __init__(self, allow: AllowList) -> None:
        self._allow = allow
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        for address in addresses:
            reason = blocked_reason(address)
            if reason and not self._allow.permits(host, address):
                raise FetchRefused(Outcome.BLOCKED_ADDRESS, f"{host} resolves to {address} ({reason}); not in {ALLOW_HOSTS_ENV}")
        last_error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                stream = self._sockets.connect_tcp(str(address), port, _capped(timeout), local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            return _DeadlineStream(stream)
        raise last_error


def _guarded_transport(policy: FetchPolicy) -> httpx.HTTPTransport:
    """An httpx transport whose connection pool uses the guarded backend (httpx has no public hook for it)."""
    ssl_context = httpx.create_ssl_context(trust_env=False)  # certifi's CAs, loaded once per Fetcher
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False)
    transport._pool = httpcore.ConnectionPool(  # noqa: SLF001 - swap the pool for one with our backend
        ssl_context=ssl_context,
        max_connections=policy.max_workers * policy.per_host_concurrency,
        max_keepalive_connections=policy.max_workers,
        keepalive_expiry=5.0,
        network_backend=_GuardedBackend(policy.allow_hosts),
    )
    return transport


# --- per-host manners ------------------------------------------------------------------------


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

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of the host's slots, starting no sooner than `delay` after the previous start there."""
        with self._semaphore(host):
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self._delay
            time.sleep(start - now)
            yield

    def defer(self, host: str, seconds: float) -> None:
        """The host asked us (429/503 Retry-After) to stay away for `seconds`."""
        with self._lock:
            self._deferred_until[host] = max(self._deferred_until.get(host, 0.0), time.monotonic() + seconds)

    def deferred_for(self, host: str) -> float | None:
        """Seconds this host still asked us to wait, or None."""
        with self._lock:
            left = self._deferred_until.get(host, 0.0) - time.monotonic()
        return left if left > 0 else None


# --- small pure helpers ----------------------------------------------------------------------


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


def _host_key(url: str) -> str:
    """The host that per-host limits and Retry-After deferrals are kept for."""
    return (urlsplit(url).hostname or "").lower()


def _origin(url: str) -> str:
    """scheme://host:port, the scope of one robots.txt (RFC 9309 2.3)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _decompressor(encoding: str) -> Any:
    """A zlib stream for the response's Content-Encoding, None for identity; unknown codings refused."""
    coding = encoding.strip().lower()
    if coding in IDENTITY_ENCODINGS:
        return None
    if coding in GZIP_ENCODINGS:
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # +32: accept gzip or zlib headers
    raise FetchRefused(Outcome.DECODE_ERROR, f"unsupported Content-Encoding {encoding!r}")


def _inflate(decoder: Any, data: bytes, room: int) -> Iterator[bytes]:
    """Decoded pieces of `data`, at most `room`+1 bytes in all, a step at a time (bomb-safe)."""
    produced = 0
    while data and produced <= room:
        piece = decoder.decompress(data, MAX_DECOMPRESS_STEP)
        data = decoder.unconsumed_tail
        produced += len(piece)
        yield piece


def _read_body(response: httpx.Response, max_bytes: int) -> tuple[bytes, int]:
    """The decoded body and its size; refuses past `max_bytes` decoded bytes without holding more."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused(Outcome.TOO_LARGE, f"Content-Length {declared} exceeds {max_bytes} bytes")
    decoder = _decompressor(response.headers.get("content-encoding", ""))
    parts: list[bytes] = []
    size = 0
    try:
        for raw in response.iter_raw(READ_CHUNK_BYTES):
            for piece in _inflate(decoder, raw, max_bytes - size) if decoder else (raw,):
                size += len(piece)
                if size > max_bytes:
                    raise FetchRefused(Outcome.TOO_LARGE, f"body exceeds {max_bytes} bytes (decoded)", size)
                parts.append(piece)
        tail = decoder.flush() if decoder is not None else b""
    except zlib.error as exc:
        note = f"corrupt {response.headers.get('content-encoding')} body: {exc}"
        raise FetchRefused(Outcome.DECODE_ERROR, note, size) from exc
    size += len(tail)
    if size > max_bytes:
        raise FetchRefused(Outcome.TOO_LARGE, f"body exceeds {max_bytes} bytes (decoded)", size)
    return b"".join([*parts, tail]), size


def _failure(
    url: str, current: str, outcome: Outcome, note: str, status: int | None = None, bytes_read: int = 0
) -> FetchResult:
    """A result without a usable response: the outcome and the reason are what gets recorded."""
    return FetchResult(url=url, final_url=current, status=status, outcome=outcome, note=note, bytes_read=bytes_read)


def _url_refusal(url: str, current: str) -> FetchResult | None:
    """A failure for URLs no request should be made for: other schemes, no host, unparsable."""
    try:
        parts = urlsplit(current)
        has_host = bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return _failure(url, current, Outcome.NETWORK_ERROR, f"unparsable URL: {exc}")
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        return _failure(url, current, Outcome.BLOCKED_SCHEME, f"scheme {scheme or '(none)'!r} is not http(s)")
    return None if has_host else _failure(url, current, Outcome.NETWORK_ERROR, "URL has no host")


# --- the fetcher -----------------------------------------------------------------------------


class Fetcher:
    """The pipeline's one door to HTTP: one httpx client, a robots.txt cache and per-host limits.

    Thread-safe: `fetch_many` runs fetches in a pool; per-host slots keep each site's load polite.
    """

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        self.policy = policy or FetchPolicy.from_env()
        self._client = httpx.Client(
            transport=_guarded_transport(self.policy),
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
        self._robots: dict[str, RobotsVerdict] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

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
        with ThreadPoolExecutor(max_workers=min(self.policy.max_workers, len(urls)), thread_name_prefix="fetch") as pool:
            return list(pool.map(lambda url: self.fetch(url, accept=accept), urls))

    def _follow(self, url: str, headers: dict[str, str], max_bytes: int, *, check_robots: bool) -> FetchResult:
        """Request `url`, following redirects by hand so every hop passes the scheme, robots and address checks."""
        budget = self.policy.total_timeout
        current = url
        seen = {url}
        for _hop in range(self.policy.max_redirects + 1):
            if refusal := _url_refusal(url, current):
                return refusal
            if check_robots and (refusal := self._robots_refusal(url, current)):
                return refusal
            host = _host_key(current)
            if (wait := self._limiter.deferred_for(host)) is not None:
                note = f"{host} asked (Retry-After) to wait {wait:.0f}s more; not requested"
                return FetchResult(url, current, None, Outcome.RETRY_LATER, retry_after_seconds=wait, note=note)
            with self._limiter.slot(host):
                hop_started = time.monotonic()
                result, location = self._request(url, current, headers, max_bytes, budget)
                budget -= time.monotonic() - hop_started
            if result.outcome is Outcome.RETRY_LATER:
                self._limiter.defer(host, result.retry_after_seconds or 0.0)
            if location is None:
                return result
            current = urljoin(current, location)
            if current in seen:
                return _failure(url, current, Outcome.REDIRECT_LOOP, f"redirect loop back to {current}", result.status)
            seen.add(current)
        return _failure(url, current, Outcome.REDIRECT_LOOP, f"more than {self.policy.max_redirects} redirects")

    def _request(
        self, url: str, current: str, headers: dict[str, str], max_bytes: int, budget: float
    ) -> tuple[FetchResult, str | None]:
        """One HTTP exchange within `budget` seconds: the result, and the Location to follow if it redirects."""
        if budget <= 0:
            return _failure(url, current, Outcome.TIMEOUT, "total fetch time exceeded across redirects"), None
        token = _DEADLINE.set(time.monotonic() + budget)
        status: int | None = None
        try:
            with self._client.stream("GET", current, headers=headers) as response:
                status = response.status_code
                location = response.headers.get("location")
                if status in REDIRECT_STATUSES and location:
                    return _failure(url, current, Outcome.HTTP_ERROR, f"redirect to {location}", status), location
                outcome = outcome_for_status(status)
                body, size = _read_body(response, max_bytes) if outcome is Outcome.OK else (None, 0)
                return self._response_result(url, current, response, outcome, body, size), None
        except FetchRefused as exc:
            return _failure(url, current, exc.outcome, exc.note, status, exc.bytes_read), None
        except httpx.TimeoutException as exc:
            return _failure(url, current, Outcome.TIMEOUT, f"{type(exc).__name__}: {exc}", status), None
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, ValueError) as exc:
            return _failure(url, current, Outcome.NETWORK_ERROR, f"{type(exc).__name__}: {exc}", status), None
        finally:
            _DEADLINE.reset(token)

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
            note="" if outcome in (Outcome.OK, Outcome.NOT_MODIFIED) else f"HTTP {response.status_code} {response.reason_phrase}",
        )

    # --- robots.txt ------------------------------------------------------------------------

    def _robots_refusal(self, url: str, current: str) -> FetchResult | None:
        """A refusal when robots.txt of `current`'s site disallows it (or could not be read), else None."""
        verdict = self._robots_verdict(_origin(current))
        if verdict.rules.can_fetch(ROBOTS_AGENT, current):
            return None
        note = verdict.note or f"robots.txt disallows {urlsplit(current).path or '/'} for {ROBOTS_AGENT}"
        return _failure(url, current, verdict.refusal, note)

    def _robots_verdict(self, origin: str) -> RobotsVerdict:
        """The site's robots.txt, fetched once per Fetcher (per-origin lock: no duplicate fetches)."""
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._robots:
                result = self._follow(f"{origin}/robots.txt", {"Accept": ROBOTS_ACCEPT}, ROBOTS_MAX_BYTES, check_robots=False)
                self._robots[origin] = robots_verdict(result)
            return self._robots[origin]


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


# --- feeds -----------------------------------------------------------------------------------

# Feeds are parsed from bytes only. feedparser strips DOCTYPEs itself but keeps "safe" entities and,
# when expat rejects the document, re-expands them in its loose parser (a 100 kB entity used 2,000
# times is 200 MB), and its DOCTYPE regexes are quadratic in blank lines before the root element.
_ROOT_ELEMENT = re.compile(rb"<\w")  # where feedparser's prolog ("head") ends
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
_WHITESPACE_RUN = re.compile(rb"\s+")
_JSON_START = re.compile(rb"^\s*[\[{]")
_HTML_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.IGNORECASE | re.DOTALL)
MAX_WIDE_PROLOG_BYTES = 8 * 1024  # UTF-16/32 prologs cannot be compacted bytewise; longer ones are refused
HTML_SNIFF_BYTES = 4096
JSON_NOTE = "JSON (JSON Feed is not read: feedparser 6.0 parses RSS/Atom/RDF only)"


class ParseProblem(StrEnum):
    """Why a fetched body gave no feed items; the value goes to quarantine.reason."""

    EMPTY_BODY = "empty_body"
    HOSTILE_XML = "hostile_xml"
    NOT_A_FEED = "not_a_feed"
    NO_ITEMS = "no_items"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One feed item as plain data: datetimes aware UTC, HTML as sanitized by feedparser."""

    guid: str | None
    link: str | None
    title: str | None
    published: datetime | None
    updated: datetime | None
    summary_html: str | None
    content_html: str | None
    authors: tuple[str, ...]
    language: str | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's metadata and unique entries, or the `problem` that left it without entries.

    `bozo` keeps feedparser's complaint about a malformed feed it still read (informational);
    `duplicates` counts items dropped because an earlier item had the same GUID (or canonical link).
    """

    url: str
    version: str | None
    title: str | None
    link: str | None
    language: str | None
    entries: tuple[FeedEntry, ...]
    problem: ParseProblem | None = None
    note: str = ""
    bozo: str | None = None
    duplicates: int = 0


def xml_hazard(body: bytes) -> str | None:
    """Why `body` must not reach an XML parser (entity declarations, huge wide prolog), or None."""
    if _INTERNAL_SUBSET.search(body) and _ENTITY_DECLARATION.search(body):
        return "DOCTYPE declares entities (entity-expansion and external-entity attacks are refused)"
    root = _ROOT_ELEMENT.search(body)
    prolog_end = root.start() if root else len(body)
    if b"\x00" in body[:prolog_end] and prolog_end > MAX_WIDE_PROLOG_BYTES:
        return f"UTF-16/32 prolog of {prolog_end} bytes before the root element"
    return None


def compact_prolog(body: bytes) -> bytes:
    """Collapse whitespace runs before the root element (insignificant in XML) to one newline each.

    feedparser's `^\\s*<!DOCTYPE` regexes backtrack quadratically over blank lines there (40,000 blank
    lines take 40 s); after compaction every line starts with a non-space, so they run in linear time.
    Wide encodings (NUL bytes) are left alone: `xml_hazard` caps their prolog length instead.
    """
    root = _ROOT_ELEMENT.search(body)
    prolog_end = root.start() if root else len(body)
    if b"\x00" in body[:prolog_end]:
        return body
    return _WHITESPACE_RUN.sub(b"\n", body[:prolog_end]) + body[prolog_end:]


def _is_json(body: bytes) -> bool:
    """JSON (a JSON Feed, an API error): feedparser would spend seconds to find no feed in it."""
    return bool(_JSON_START.match(body[:HTML_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf")))


def _is_html(body: bytes) -> bool:
    """An HTML page, sniffed from its start (some pages wrap a feed, so this is asked only when none was found)."""
    return bool(_HTML_START.match(body[:HTML_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf")))


def _text(value: Any) -> str | None:
    """A stripped non-empty string, or None."""
    return value.strip() or None if isinstance(value, str) else None


def _utc(value: Any) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime; impossible dates (year 0, day 32) give None."""
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """Distinct author names, from the structured list or else the single author string."""
    names = [_text(author.get("name")) for author in entry.get("authors") or [] if isinstance(author, Mapping)]
    found = tuple(dict.fromkeys(name for name in names if name))
    return found or tuple(name for name in (_text(entry.get("author")),) if name)


def _content_html(entry: Mapping[str, Any]) -> str | None:
    """The first non-empty full-content block (content:encoded, atom:content); summaries are kept apart."""
    return next((text for content in entry.get("content") or [] if (text := _text(content.get("value")))), None)


def _entry_language(entry: Mapping[str, Any], feed_language: str | None) -> str | None:
    """An item's xml:lang if it has one, else the feed's language (items in a feed can differ)."""
    details = [*(entry.get("content") or []), entry.get("summary_detail") or {}, entry.get("title_detail") or {}]
    return next((lang for detail in details if (lang := _text(detail.get("language")))), feed_language)


def entry_key(guid: str | None, link: str | None) -> str | None:
    """A feed item's identity: the GUID, else the canonical link, else the link as given."""
    return guid or canonical_url_or_none(link) or link


def _feed_entry(entry: dict[str, Any], feed_language: str | None) -> FeedEntry:
    """feedparser's loosely typed dict as a FeedEntry, so nothing downstream touches feedparser."""
    return FeedEntry(
        guid=_text(entry.get("id")),
        link=_text(entry.get("link")),
        title=_text(entry.get("title")),
        # dict.get: FeedParserDict.get("updated_parsed") silently falls back to the published date
        published=_utc(dict.get(entry, "published_parsed")),
        updated=_utc(dict.get(entry, "updated_parsed")),
        summary_html=_text(entry.get("summary")),
        content_html=_content_html(entry),
        authors=_authors(entry),
        language=_entry_language(entry, feed_language),
    )


def _unique(entries: Iterable[FeedEntry]) -> tuple[FeedEntry, ...]:
    """First occurrence of each GUID/link wins (feeds list newest first)."""
    seen: set[str] = set()
    kept: list[FeedEntry] = []
    for entry in entries:
        key = entry_key(entry.guid, entry.link)
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
        kept.append(entry)
    return tuple(kept)


def parse_feed_bytes(body: bytes | None, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """Parse feed bytes with feedparser (never letting it fetch), after refusing hostile XML."""
    empty = ParsedFeed(url=url, version=None, title=None, link=None, language=None, entries=())
    if not body or not body.strip():
        return replace(empty, problem=ParseProblem.EMPTY_BODY, note="the response body is empty")
    if hazard := xml_hazard(body):
        return replace(empty, problem=ParseProblem.HOSTILE_XML, note=hazard)
    if _is_json(body):
        return replace(empty, problem=ParseProblem.NOT_A_FEED, note=JSON_NOTE)
    response_headers = {key.lower(): value for key, value in headers.items()}
    response_headers.setdefault("content-location", url)  # base for relative links in the feed
    # A stream, never bytes: feedparser opens bytes that name a path ("/etc/passwd", "/dev/zero") as a local file.
    parsed = feedparser.parse(io.BytesIO(compact_prolog(body)), response_headers=response_headers)
    feed = parsed.get("feed") or {}
    language = _text(feed.get("language")) or _text(response_headers.get("content-language"))
    all_entries = [_feed_entry(entry, language) for entry in parsed.get("entries") or []]
    entries = _unique(all_entries)
    bozo = f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}" if parsed.get("bozo") else None
    result = ParsedFeed(
        url=url,
        version=parsed.get("version") or None,
        title=_text(feed.get("title")),
        link=_text(feed.get("link")),
        language=language,
        entries=entries,
        bozo=bozo,
        duplicates=len(all_entries) - len(entries),
    )
    if entries:
        return result
    content_type = response_headers.get("content-type", "no Content-Type")
    if _is_html(body):  # sniffed, not trusted from Content-Type: servers label real feeds text/html too
        return replace(result, problem=ParseProblem.NOT_A_FEED, note=f"HTML page ({content_type})")
    if not result.version:
        return replace(result, problem=ParseProblem.NOT_A_FEED, note=f"{bozo or 'no RSS/Atom/RDF root element'} ({content_type})")
    note = f"{result.version} feed without items" + (f" ({bozo})" if bozo else "")
    return replace(result, problem=ParseProblem.NO_ITEMS, note=note)


def parse_feed(result: FetchResult) -> ParsedFeed:
    """The feed in a fetch result (the final URL is the base for relative links)."""
    return parse_feed_bytes(result.body, result.headers, result.final_url)
