"""How a fetch ended: the fixed vocabulary of outcomes and the result every fetch returns.

Kept apart from the transport so readers of results (feed polling, robots rules) need no httpx.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


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
    requested_at: datetime | None = None  # when its first request went out (or it was refused unsent): set by Fetcher

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


def failure(
    url: str, current: str, outcome: Outcome, note: str, status: int | None = None, bytes_read: int = 0
) -> FetchResult:
    """A result without a usable response: the outcome and the reason are what gets recorded."""
    return FetchResult(url=url, final_url=current, status=status, outcome=outcome, note=note, bytes_read=bytes_read)
