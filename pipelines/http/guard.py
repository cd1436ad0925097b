"""The address guard under httpx: every TCP connection is resolved, checked and connected in one place.

Limits live below httpx, in the connection layer, because that is the only place where they cannot
be bypassed: every TCP connection (first request, each redirect hop, robots.txt) resolves the host
itself, refuses private/loopback/link-local/metadata addresses unless allow-listed, and connects to
the very address it checked (no DNS-rebinding window); every socket read and write gets at most the
time left of the fetch's total budget (`deadline`), so a slow-drip server runs into the deadline
even while it drips headers.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from pipelines.config import ALLOW_HOSTS_ENV
from pipelines.http.outcome import FetchRefused, Outcome

# The setting an operator uses to allow-list hosts (read by pipelines.config); named in refusals so they say
# how to fix it.
KEEPALIVE_SECONDS = 5.0

# Cloud metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba) named so a refusal says why.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not global

# The deadline (time.monotonic) of the fetch running in this thread; read by every socket operation.
_DEADLINE: ContextVar[float] = ContextVar("newsflow_fetch_deadline", default=math.inf)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> _DeadlineStream:
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
                raise FetchRefused(
                    Outcome.BLOCKED_ADDRESS, f"{host} resolves to {address} ({reason}); not in {ALLOW_HOSTS_ENV}"
                )
        last_error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                stream = self._sockets.connect_tcp(str(address), port, _capped(timeout), local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            return _DeadlineStream(stream)
        raise last_error


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Give every socket operation in this thread at most `seconds` in all, until the block ends."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def guarded_transport(allow: AllowList, max_connections: int, max_keepalive: int) -> httpx.HTTPTransport:
    """An httpx transport whose connection pool uses the guarded backend (httpx has no public hook for it)."""
    ssl_context = httpx.create_ssl_context(trust_env=False)  # certifi's CAs, loaded once per Fetcher
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        max_connections=max_connections,
        max_keepalive_connections=max_keepalive,
        keepalive_expiry=KEEPALIVE_SECONDS,
        network_backend=_GuardedBackend(allow),
    )
    return transport
