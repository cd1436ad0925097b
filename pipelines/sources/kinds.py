"""The kinds of source `feeds.yaml` can name, each with its reader: one place, so a new kind is its reader's
module plus one entry in KINDS.

A kind's reader turns the fetched body of a source's URL into a `Listing` (pipelines.sources.listing),
fetching further parts through the given fetcher where the kind needs them; polling does the rest
(conditional requests, seen items, pages, accounting) the same for every kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.http.outcome import FetchResult
from pipelines.sources.jsonfeed import parse_feed
from pipelines.sources.listing import Listing, ListingWindow, Reader
from pipelines.sources.sitemaps import read_sitemap_listing

if TYPE_CHECKING:
    from pipelines.http.fetcher import Fetcher


@dataclass(frozen=True, slots=True)
class SourceKind:
    name: str
    read: Reader
    options: tuple[str, ...] = ()  # the feeds.yaml keys that apply to this kind only
    note: str = ""  # what the kind lists, for `feeds.yaml`'s error messages


def read_feed(result: FetchResult, fetcher: Fetcher, window: ListingWindow) -> Listing:
    """RSS, Atom, RDF or JSON Feed: the body lists its recent items itself, nothing more to fetch."""
    return Listing(parse_feed(result.body, result.headers, result.final_url))


FEED, SITEMAP = "feed", "sitemap"
KINDS = {
    FEED: SourceKind(FEED, read_feed, note="a feed lists its recent items itself"),
    SITEMAP: SourceKind(SITEMAP, read_sitemap_listing, options=("max_age_days",), note="a (news) sitemap or index"),
}
