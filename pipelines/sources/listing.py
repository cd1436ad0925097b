"""What a poll reads from a source of any kind (a feed, a sitemap): its listing of items, and the further
listings it fetched to get them. Each kind's reader (pipelines.sources.kinds) makes one of these; polling
takes it from there, whatever the kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pipelines.http.outcome import FetchResult
from pipelines.sources.feedparse import ParsedFeed

if TYPE_CHECKING:
    from pipelines.http.fetcher import Fetcher


@dataclass(frozen=True, slots=True)
class ListingWindow:
    """Which items a poll of a source takes: dated within `max_age` of `now` (for kinds whose listing dates its
    items), from parts changed since `read_through` (when a poll last read the whole listing)."""

    now: datetime
    max_age: timedelta
    read_through: datetime | None = None

    @property
    def cutoff(self) -> datetime:
        return self.now - self.max_age


@dataclass(frozen=True, slots=True)
class ListingPart:
    """A further listing fetched for this poll (an index's sitemap): a request made, and a raw document when read."""

    result: FetchResult
    read: bool  # its body was read (False: the fetch failed)
    problem: str | None = None  # why the body read is not a listing: it is quarantined with this reason


@dataclass(frozen=True, slots=True)
class Listing:
    """A source's items as a ParsedFeed (newest first where dated), and how completely the poll read it."""

    parsed: ParsedFeed
    parts: tuple[ListingPart, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)  # the kind's own counts for the run (sitemaps_read, ...)
    failure: str | None = None  # nothing could be read past the first body (an index none of whose sitemaps read)
    complete: bool = True  # every part that may hold new items was read: the validators may be remembered
    remember_body: bool = True  # the same body next time means nothing new (not for an index of undated sitemaps)


# A kind's reader: the fetched body of the source's URL, the fetcher for further parts, and the window.
Reader = Callable[[FetchResult, "Fetcher", ListingWindow], Listing]
