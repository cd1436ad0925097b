"""News sitemaps as a source (`kind: sitemap`): a sitemap index, its sitemaps, and their URLs as feed entries.

A sitemap carries no content, only where pages are and when they changed, so each recent URL becomes a
`FeedEntry` (with the `news:` title, publication date and language when the sitemap has them) and the
poll fetches its page as it fetches a feed item's. trafilatura's `sitemaps` module was not used: it
fetches by itself and keeps only the locations, while every request here must go through our `Fetcher`
(address guard, robots, per-host limits, size caps) and the dates are what keeps a poll to recent URLs.
So documents are parsed here with lxml (trafilatura's own parser), after refusing entity declarations
as feeds do; a gzipped sitemap (`.xml.gz`) is inflated with the same size cap as any response body.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from lxml import etree

from pipelines.http.outcome import FetchResult
from pipelines.sources.feedparse import (
    FeedEntry,
    ParsedFeed,
    ParseProblem,
    is_html,
    iso_datetime,
    reason_text,
    text_or_none,
    unique_entries,
    xml_hazard,
)
from pipelines.sources.listing import Listing, ListingPart, ListingWindow

if TYPE_CHECKING:
    from pipelines.http.fetcher import Fetcher

SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, */*;q=0.5"
# Child sitemaps read in one poll: a site's recent news sitemaps fit, its archive of monthly sitemaps does not.
MAX_SITEMAPS_PER_POLL = 50
# A site stamps <lastmod> when it writes a sitemap, and its cache may serve the old one minutes longer: a sitemap
# stamped shortly before the last complete read is read once more.
LASTMOD_SLACK = timedelta(minutes=15)
GZIP_MAGIC = b"\x1f\x8b"
INDEX, URLSET = "sitemapindex", "urlset"
EXPECTED = f"expected <{URLSET}> or <{INDEX}>"
_RAW_AMPERSAND = re.compile(rb"&(?!(?:[A-Za-z][\w.-]*|#\d+|#x[0-9A-Fa-f]+);)")


@dataclass(frozen=True, slots=True)
class SitemapLink:
    """A sitemap named in an index, with the time the index says it last changed."""

    url: str
    lastmod: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedSitemap:
    """One sitemap document: an index's sitemaps or a urlset's URLs, or the problem that left it unread."""

    url: str
    kind: str | None = None  # INDEX or URLSET
    children: tuple[SitemapLink, ...] = ()
    entries: tuple[FeedEntry, ...] = ()
    publication: str | None = None  # news:publication/news:name, the outlet
    problem: ParseProblem | None = None
    note: str = ""


@dataclass(slots=True)
class SitemapRead:
    """A sitemap source read in one poll: its recent URLs as a ParsedFeed (newest first), the child sitemaps
    fetched (with their parse, None when the fetch failed), and the URLs and sitemaps left out and why."""

    parsed: ParsedFeed
    children: list[tuple[FetchResult, ParsedSitemap | None]] = field(default_factory=list)
    too_old: int = 0
    undated: int = 0
    sitemaps_skipped: int = 0  # unchanged since the cutoff (or the last complete read), or past max_sitemaps
    left_over: int = 0  # of those, past max_sitemaps: they may hold recent URLs
    undated_sitemaps: int = 0  # sitemaps an index lists without <lastmod>: they may change while the index does not
    failure: str | None = None  # an index none of whose sitemaps could be read

    @property
    def complete(self) -> bool:
        """Every sitemap that may hold recent URLs was read: none failed, none left for a later poll."""
        return not self.left_over and all(parsed is not None and parsed.problem is None for _, parsed in self.children)


def gunzip(body: bytes, max_bytes: int) -> bytes:
    """A gzip file's content, every member of it (RFC 1952: `cat a.gz b.gz` is one file of both), refused past
    `max_bytes` in all without inflating more (a gzip bomb stops at the cap). Zero padding after a member is
    ignored, as gzip(1) does; anything else after one is refused as corrupt."""
    data = bytearray()
    rest = body
    while rest:
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data += decoder.decompress(rest, max_bytes + 1 - len(data))
        except zlib.error as exc:
            raise ValueError(f"corrupt gzip: {exc}") from exc
        if len(data) > max_bytes:
            raise ValueError(f"gzip content exceeds {max_bytes} bytes")
        if not decoder.eof:
            raise ValueError("truncated gzip")
        rest = decoder.unused_data.lstrip(b"\x00")
    return bytes(data)


def parse_sitemap_bytes(body: bytes | None, url: str, max_bytes: int) -> ParsedSitemap:
    """A sitemap or sitemap index (XML, gzipped or not); anything else gets a problem with a reason."""
    if body and body.startswith(GZIP_MAGIC):
        try:
            body = gunzip(body, max_bytes)
        except ValueError as exc:
            return ParsedSitemap(url, problem=ParseProblem.NOT_A_FEED, note=str(exc))
    if not body or not body.strip():
        return ParsedSitemap(url, problem=ParseProblem.EMPTY_BODY, note="the sitemap is empty")
    if hazard := xml_hazard(body):
        return ParsedSitemap(url, problem=ParseProblem.HOSTILE_XML, note=hazard)
    if is_html(body):
        return ParsedSitemap(url, problem=ParseProblem.NOT_A_FEED, note=f"not a sitemap (an HTML page; {EXPECTED})")
    root = _xml_root(body)
    kind = etree.QName(root).localname if root is not None and isinstance(root.tag, str) else None
    if root is not None and kind == INDEX:
        return ParsedSitemap(url, kind, children=tuple(_links(root, url)))
    if root is not None and kind == URLSET:
        entries = tuple(_entry(node, url) for node in root if _name(node) == "url")
        return ParsedSitemap(url, kind, entries=entries, publication=_publication(root))
    found = f"root element <{kind}>" if kind else "no XML root element"
    return ParsedSitemap(url, problem=ParseProblem.NOT_A_FEED, note=f"not a sitemap ({found}; {EXPECTED})")


def read_sitemaps(
    root: FetchResult,
    fetcher: Fetcher,
    cutoff: datetime,
    read_through: datetime | None = None,
    max_sitemaps: int = MAX_SITEMAPS_PER_POLL,
) -> SitemapRead:
    """Read the fetched root and, for an index, its sitemaps changed since `cutoff` and since `read_through` (the
    last poll that read them all; LASTMOD_SLACK earlier), newest first, nested indexes too, each once, at most
    `max_sitemaps`; keep the URLs dated at or after `cutoff`. Sitemaps without <lastmod> are always read."""
    max_bytes = fetcher.policy.max_bytes
    first = parse_sitemap_bytes(root.body, root.final_url, max_bytes)
    changed_since = cutoff if read_through is None else max(cutoff, read_through - LASTMOD_SLACK)
    children: list[tuple[FetchResult, ParsedSitemap | None]] = []
    seen = {root.url, root.final_url}
    queue, skipped = _recent(first.children, changed_since, seen)
    undated_sitemaps = sum(link.lastmod is None for link in first.children)
    while queue and len(children) < max_sitemaps:
        room = max_sitemaps - len(children)
        batch, queue = queue[:room], queue[room:]
        for result in fetcher.fetch_many([link.url for link in batch], accept=SITEMAP_ACCEPT):
            child = parse_sitemap_bytes(result.body, result.final_url, max_bytes) if result.ok else None
            children.append((result, child))
            nested, unchanged = _recent(child.children if child else (), changed_since, seen)
            queue, skipped = queue + nested, skipped + unchanged
            undated_sitemaps += sum(link.lastmod is None for link in child.children) if child else 0
    documents = [first, *(child for _, child in children if child is not None and child.problem is None)]
    listed = [(entry, _date(entry)) for document in documents for entry in document.entries]
    recent = sorted(
        ((entry, when) for entry, when in listed if when is not None and when >= cutoff),
        key=lambda pair: pair[1],
        reverse=True,
    )
    kept = unique_entries(entry for entry, _ in recent)  # newest first; a URL listed twice counts once
    undated = sum(when is None for _, when in listed)
    publication = next((document.publication for document in documents if document.publication), None)
    parsed = ParsedFeed(
        url=first.url,
        version=first.kind,
        title=publication,
        link=None,
        language=None,
        entries=kept,
        problem=first.problem,
        note=first.note,
        duplicates=len(recent) - len(kept),
    )
    failure = None
    if first.kind == INDEX and children and len(documents) == 1:
        failure = f"none of the index's {len(children)} sitemaps could be read ({_why(*children[0])})"
    return SitemapRead(
        parsed,
        children,
        too_old=len(listed) - len(recent) - undated,
        undated=undated,
        sitemaps_skipped=skipped + len(queue),
        left_over=len(queue),
        undated_sitemaps=undated_sitemaps,
        failure=failure,
    )


def read_sitemap_listing(root: FetchResult, fetcher: Fetcher, window: ListingWindow) -> Listing:
    """The sitemap kind's reader (pipelines.sources.kinds): `read_sitemaps` within the window, as a listing."""
    read = read_sitemaps(root, fetcher, window.cutoff, window.read_through)
    parts = tuple(
        ListingPart(
            result,
            parsed is not None,
            reason_text(parsed.problem, parsed.note) if parsed is not None and parsed.problem else None,
        )
        for result, parsed in read.children
    )
    read_ok = sum(part.read and part.problem is None for part in parts)
    counts = {
        "sitemaps_read": read_ok,
        "sitemaps_failed": len(parts) - read_ok,
        "sitemaps_skipped": read.sitemaps_skipped,
        "items_too_old": read.too_old,
        "items_undated": read.undated,
    }
    return Listing(read.parsed, parts, counts, read.failure, read.complete, remember_body=not read.undated_sitemaps)


def _recent(links: Iterable[SitemapLink], since: datetime, seen: set[str]) -> tuple[list[SitemapLink], int]:
    """Sitemaps not read yet that may hold URLs not taken yet (changed since `since`, or undated), newest first;
    and how many were left out as unchanged since before `since`. Marks those returned as seen."""
    fresh = [link for link in links if link.url not in seen]
    recent = [link for link in fresh if link.lastmod is None or link.lastmod >= since]
    recent.sort(key=lambda link: link.lastmod or since, reverse=True)
    seen.update(link.url for link in recent)
    return recent, len(fresh) - len(recent)


def _date(entry: FeedEntry) -> datetime | None:
    """When a listed URL last changed: its news publication date, else its lastmod."""
    return entry.published or entry.updated


def _why(result: FetchResult, parsed: ParsedSitemap | None) -> str:
    """What went wrong with one child sitemap, for the poll's error: it was not fetched, or did not parse
    (`read_sitemaps` asks only when no child gave a URL list, so a parsed one has a problem)."""
    if parsed is None or parsed.problem is None:
        return f"{result.url}: {reason_text(result.outcome, result.note)}"
    return f"{parsed.url}: {reason_text(parsed.problem, parsed.note)}"


def _xml_root(body: bytes) -> etree._Element | None:
    """The root element, or None. Entities were refused before (`xml_hazard`) and are never resolved here.
    Real sitemaps often hold a raw '&' in a URL: it is escaped first (the recovering parser would drop
    `&b` from `?a=1&b=2`). A parser per call: lxml's parsers are not thread-safe."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True)
    try:
        return etree.fromstring(_RAW_AMPERSAND.sub(b"&amp;", body), parser)
    except etree.XMLSyntaxError:
        return None


def _name(node: etree._Element) -> str | None:
    """The element's name without its namespace (sites use the sitemap namespaces loosely); None for comments."""
    return etree.QName(node).localname if isinstance(node.tag, str) else None


def _child(node: etree._Element, *path: str) -> etree._Element | None:
    """The first descendant along `path` of local names (`news`, `publication`, `name`)."""
    for name in path:
        node = next((child for child in node if _name(child) == name), None)
        if node is None:
            return None
    return node


def _value(node: etree._Element, *path: str) -> str | None:
    found = _child(node, *path)
    return text_or_none(found.text) if found is not None else None


def _location(node: etree._Element, base: str) -> str | None:
    """`<loc>` made absolute; only http(s) pages are kept as links."""
    loc = _value(node, "loc")
    url = urljoin(base, loc) if loc else None
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _links(root: etree._Element, base: str) -> Iterable[SitemapLink]:
    for node in root:
        if _name(node) == "sitemap" and (url := _location(node, base)):
            yield SitemapLink(url, iso_datetime(_value(node, "lastmod")))


def _entry(node: etree._Element, base: str) -> FeedEntry:
    """One `<url>`: its location and lastmod, and the `news:` title, publication date and language."""
    return FeedEntry(
        guid=None,
        link=_location(node, base),
        title=_value(node, "news", "title"),
        published=iso_datetime(_value(node, "news", "publication_date")),
        updated=iso_datetime(_value(node, "lastmod")),
        summary_html=None,
        content_html=None,
        authors=(),
        language=_value(node, "news", "publication", "language"),
    )


def _publication(root: etree._Element) -> str | None:
    """The outlet named by the first URL's news:publication (one sitemap is one publication's)."""
    return next(
        (name for node in root if _name(node) == "url" and (name := _value(node, "news", "publication", "name"))), None
    )
