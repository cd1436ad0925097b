"""Feed parsing from bytes: feedparser behind a guard, its loose dicts turned into plain `FeedEntry` data.

Used for fetched feeds and for saved feed files alike, so this module never imports the HTTP stack
(reading a saved `.rss` must not load httpx). feedparser only ever receives bytes, never a URL.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import feedparser

from pipelines.urls import canonical_url_or_none

# Feeds are parsed from bytes only. feedparser strips DOCTYPEs itself but keeps "safe" entities and,
# when expat rejects the document, re-expands them in its loose parser (a 100 kB entity used 2,000
# times is 200 MB), and its DOCTYPE regexes are quadratic in blank lines before the root element.
_ROOT_ELEMENT = re.compile(rb"<\w")  # where feedparser's prolog ("head") ends
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
_WHITESPACE_RUN = re.compile(rb"\s+")
_JSON_START = re.compile(rb"^\s*[\[{]")
_YEAR_MONTH = re.compile(r"^\d{4}(?:-\d{2})?$")
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.IGNORECASE | re.DOTALL
)
MAX_WIDE_PROLOG_BYTES = 8 * 1024  # UTF-16/32 prologs cannot be compacted bytewise; longer ones are refused
HTML_SNIFF_BYTES = 4096
JSON_NOTE = "JSON (feedparser 6.0 parses RSS/Atom/RDF only; JSON Feeds are read by pipelines.sources.jsonfeed)"


def reason_text(problem: StrEnum, note: str) -> str:
    """A quarantine reason or a candidate's problem: the problem's fixed value, then what was seen, if anything."""
    return f"{problem.value}: {note}" if note else problem.value


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


def is_json(body: bytes) -> bool:
    """JSON (a JSON Feed, an API error): feedparser would spend seconds to find no feed in it."""
    return bool(_JSON_START.match(body[:HTML_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf")))


def is_html(body: bytes) -> bool:
    """An HTML page, sniffed from its start (some pages wrap a feed, so this is asked only when none was found)."""
    return bool(_HTML_START.match(body[:HTML_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf")))


def text_or_none(value: Any) -> str | None:
    """A stripped non-empty string, or None."""
    return value.strip() or None if isinstance(value, str) else None


def iso_datetime(value: Any) -> datetime | None:
    """An ISO 8601 / RFC 3339 / W3C-DTF time (JSON Feed, sitemaps) as aware UTC; None when absent or unreadable.

    A time without a zone is taken as UTC; the W3C-DTF short forms YYYY and YYYY-MM mean their first day.
    A bad date in one item must not cost the item, so nothing here raises.
    """
    text = value.strip() if isinstance(value, str) else ""
    if _YEAR_MONTH.match(text):
        text = f"{text}-01-01"[:10]
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _utc(value: Any) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime; impossible dates (year 0, day 32) give None."""
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """Distinct author names, from the structured list or else the single author string."""
    names = [text_or_none(author.get("name")) for author in entry.get("authors") or [] if isinstance(author, Mapping)]
    found = tuple(dict.fromkeys(name for name in names if name))
    return found or tuple(name for name in (text_or_none(entry.get("author")),) if name)


def _content_html(entry: Mapping[str, Any]) -> str | None:
    """The first non-empty full-content block (content:encoded, atom:content); summaries are kept apart."""
    return next((text for content in entry.get("content") or [] if (text := text_or_none(content.get("value")))), None)


def _entry_language(entry: Mapping[str, Any], feed_language: str | None) -> str | None:
    """An item's xml:lang if it has one, else the feed's language (items in a feed can differ)."""
    details = [*(entry.get("content") or []), entry.get("summary_detail") or {}, entry.get("title_detail") or {}]
    return next((lang for detail in details if (lang := text_or_none(detail.get("language")))), feed_language)


def entry_key(guid: str | None, link: str | None) -> str | None:
    """A feed item's identity: the GUID, else the canonical link, else the link as given."""
    return guid or canonical_url_or_none(link) or link


def _feed_entry(entry: dict[str, Any], feed_language: str | None) -> FeedEntry:
    """feedparser's loosely typed dict as a FeedEntry, so nothing downstream touches feedparser."""
    return FeedEntry(
        guid=text_or_none(entry.get("id")),
        link=text_or_none(entry.get("link")),
        title=text_or_none(entry.get("title")),
        # dict.get: FeedParserDict.get("updated_parsed") silently falls back to the published date
        published=_utc(dict.get(entry, "published_parsed")),
        updated=_utc(dict.get(entry, "updated_parsed")),
        summary_html=text_or_none(entry.get("summary")),
        content_html=_content_html(entry),
        authors=_authors(entry),
        language=_entry_language(entry, feed_language),
    )


def unique_entries(entries: Iterable[FeedEntry]) -> tuple[FeedEntry, ...]:
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
    if is_json(body):
        return replace(empty, problem=ParseProblem.NOT_A_FEED, note=JSON_NOTE)
    response_headers = {key.lower(): value for key, value in headers.items()}
    response_headers.setdefault("content-location", url)  # base for relative links in the feed
    # A stream, never bytes: feedparser opens bytes that name a path ("/etc/passwd", "/dev/zero") as a local file.
    parsed = feedparser.parse(io.BytesIO(compact_prolog(body)), response_headers=response_headers)
    feed = parsed.get("feed") or {}
    language = text_or_none(feed.get("language")) or text_or_none(response_headers.get("content-language"))
    all_entries = [_feed_entry(entry, language) for entry in parsed.get("entries") or []]
    entries = unique_entries(all_entries)
    bozo = f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}" if parsed.get("bozo") else None
    result = ParsedFeed(
        url=url,
        version=parsed.get("version") or None,
        title=text_or_none(feed.get("title")),
        link=text_or_none(feed.get("link")),
        language=language,
        entries=entries,
        bozo=bozo,
        duplicates=len(all_entries) - len(entries),
    )
    if entries:
        return result
    content_type = response_headers.get("content-type", "no Content-Type")
    if is_html(body):  # sniffed, not trusted from Content-Type: servers label real feeds text/html too
        return replace(result, problem=ParseProblem.NOT_A_FEED, note=f"HTML page ({content_type})")
    if not result.version:
        return replace(
            result, problem=ParseProblem.NOT_A_FEED, note=f"{bozo or 'no RSS/Atom/RDF root element'} ({content_type})"
        )
    note = f"{result.version} feed without items" + (f" ({bozo})" if bozo else "")
    return replace(result, problem=ParseProblem.NO_ITEMS, note=note)
