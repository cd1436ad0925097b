"""Finding a site's feeds from one URL: the URL itself, the page's feed links, common feed paths, robots.txt sitemaps.

`newsflow feeds add` shows what this finds and appends one of them to feeds.yaml. Every request goes
through the `Fetcher` (address guard, robots.txt, size caps, per-host limits), and a feed is offered
as usable only once it was fetched and read the way polling reads it. Feed links are taken from the
page by trafilatura's feed finder (`<link rel="alternate">` of a feed type, else links that look like
feeds); common paths are tried only when the page offers no usable feed, each being one more request.
A sitemap is read as polling reads it (an index: its newest sitemaps, a few), and counts by the URLs it
dates within `max_age_days`: a general sitemap without dates would never yield anything to a poll.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from pipelines.http.outcome import FetchResult
from pipelines.sources.feed_config import DEFAULT_MAX_AGE_DAYS
from pipelines.sources.feedparse import reason_text
from pipelines.sources.formats import decode_html
from pipelines.sources.jsonfeed import parse_feed
from pipelines.sources.kinds import FEED, SITEMAP
from pipelines.sources.sitemaps import (
    SITEMAP_ACCEPT,
    parse_sitemap_bytes,
    read_sitemaps,
)

if TYPE_CHECKING:
    from pipelines.http.fetcher import Fetcher

DISCOVERY_ACCEPT = (
    "text/html, application/xhtml+xml;q=0.9, application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
# Where feeds commonly live when a page does not link them: WordPress, most static-site generators, Blogger.
COMMON_FEED_PATHS = (
    "/feed",
    "/rss",
    "/feed.xml",
    "/rss.xml",
    "/atom.xml",
    "/index.xml",
    "/feed.json",
    "/feeds/posts/default",
)
MAX_FEED_LINKS = 10  # feed links of one page that are fetched and read (each costs a request)
MAX_SITEMAPS = 10  # sitemaps named in robots.txt that are fetched and read
MAX_INDEX_SITEMAPS = 3  # of an index, its newest sitemaps read to count its recent URLs (each costs a request)


class Found(StrEnum):
    """Where a candidate came from."""

    GIVEN = "the URL itself"
    LINK = "a feed link on the page"
    PATH = "a common feed path"
    ROBOTS = "a Sitemap line in robots.txt"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A feed or sitemap found for a site; `problem` says why it cannot be polled (None: it read fine).

    `items`: a feed's items; a sitemap's URLs dated within DEFAULT_MAX_AGE_DAYS (what a poll would take).
    """

    url: str
    kind: str
    found: Found
    title: str | None = None
    items: int = 0
    problem: str | None = None


def discover(url: str, fetcher: Fetcher, now: datetime | None = None) -> list[Candidate]:
    """Candidates for `url`: it alone when it is a feed or a sitemap, else the feeds its page offers, then its
    site's sitemaps (their URLs counted as recent against `now`, default the current time).

    An empty list means the page was read but offers nothing; a URL that cannot be read comes back as
    one candidate with the reason.
    """
    now = now or datetime.now(UTC)
    page = fetcher.fetch(url, accept=DISCOVERY_ACCEPT)
    given = read_candidate(page, Found.GIVEN)
    if given.problem is None or not page.ok:
        return [given]
    if parse_sitemap_bytes(page.body, page.final_url, fetcher.policy.max_bytes).kind:
        return [read_sitemap(page, fetcher, Found.GIVEN, now)]
    checked = {page.url, page.final_url}
    found = _check_all(fetcher, feed_links(page), Found.LINK, checked)
    if not any(candidate.problem is None for candidate in found):
        paths = [urljoin(page.final_url, path) for path in COMMON_FEED_PATHS]
        found += [
            candidate for candidate in _check_all(fetcher, paths, Found.PATH, checked) if candidate.problem is None
        ]
    sitemaps = [url for url in dict.fromkeys(fetcher.robots_sitemaps(page.final_url)) if url not in checked]
    return [
        *found,
        *(
            read_sitemap(fetcher.fetch(url, accept=SITEMAP_ACCEPT), fetcher, Found.ROBOTS, now)
            for url in sitemaps[:MAX_SITEMAPS]
        ),
    ]


def feed_links(page: FetchResult) -> list[str]:
    """The feed URLs a page links to, resolved against the page, comment feeds left out (trafilatura's finder)."""
    from trafilatura.feeds import FeedParameters, determine_feed

    html = decode_html(page.body) if page.body else None
    if not html:
        return []
    base = page.final_url
    return determine_feed(html, FeedParameters(base, urlsplit(base).hostname or "", base))[:MAX_FEED_LINKS]


def read_candidate(result: FetchResult, found: Found) -> Candidate:
    """A fetched URL as a feed candidate: its title and item count, or why polling could not read it."""
    if not result.ok:
        return Candidate(result.url, FEED, found, problem=reason_text(result.outcome, result.note))
    parsed = parse_feed(result.body, result.headers, result.final_url)
    problem = reason_text(parsed.problem, parsed.note) if parsed.problem else None
    return Candidate(result.final_url, FEED, found, parsed.title, len(parsed.entries), problem)


def read_sitemap(result: FetchResult, fetcher: Fetcher, found: Found, now: datetime) -> Candidate:
    """A fetched sitemap read as a poll reads it: its outlet (news:publication) and recent dated URLs, or why a
    poll would get nothing from it (unreadable, or no URL dated within DEFAULT_MAX_AGE_DAYS)."""
    if not result.ok:
        return Candidate(result.url, SITEMAP, found, problem=reason_text(result.outcome, result.note))
    read = read_sitemaps(result, fetcher, now - timedelta(days=DEFAULT_MAX_AGE_DAYS), max_sitemaps=MAX_INDEX_SITEMAPS)
    parsed = read.parsed
    problem = reason_text(parsed.problem, parsed.note) if parsed.problem else read.failure
    if problem is None and not parsed.entries:
        problem = (
            f"no URL dated within {DEFAULT_MAX_AGE_DAYS} days ({read.undated} undated, {read.too_old} older):"
            " a poll takes only recently dated URLs (news:publication_date or lastmod)"
        )
    return Candidate(result.final_url, SITEMAP, found, parsed.title, len(parsed.entries), problem)


def _check_all(fetcher: Fetcher, urls: Sequence[str], found: Found, checked: set[str]) -> list[Candidate]:
    """Fetch and read each URL not checked before (in order); `checked` learns them."""
    fresh = [url for url in dict.fromkeys(urls) if url not in checked]
    checked.update(fresh)
    return [read_candidate(fetcher.fetch(url, accept=DISCOVERY_ACCEPT), found) for url in fresh]


def choose(candidates: Sequence[Candidate], pick: int | None = None) -> Candidate | None:
    """The candidate to add: the `pick`-th as listed (1-based), else the first feed that read fine (or the
    sitemap given itself); a site's sitemaps are offered but picked only by number."""
    if pick is not None:
        return candidates[pick - 1] if 1 <= pick <= len(candidates) else None
    return next((c for c in candidates if (c.kind == FEED or c.found == Found.GIVEN) and c.problem is None), None)


def entry_name(candidate: Candidate, taken: Collection[str]) -> str:
    """A feeds.yaml name for the candidate: its title (else its host), "<outlet or host> sitemap" for a sitemap,
    numbered when the name is taken."""
    base = (candidate.title or "").strip() or urlsplit(candidate.url).hostname or candidate.url
    base = f"{base} sitemap" if candidate.kind == SITEMAP else base
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base} ({number})"
    return name
