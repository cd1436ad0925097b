"""JSON Feed 1.0 and 1.1 (jsonfeed.org) into the same `ParsedFeed` as RSS/Atom, and `parse_feed` for either syntax.

feedparser 6 reads RSS/Atom/RDF only. A JSON Feed is a small, fully specified JSON document and no
maintained Python library reads one, so this is a few pure functions over `json`. Fetched feeds and
saved files both come through here, so a JSON Feed gets the same accounting and reasons as RSS/Atom.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin

from pipelines.sources.feedparse import (
    FeedEntry,
    ParsedFeed,
    ParseProblem,
    is_json,
    iso_datetime,
    parse_feed_bytes,
    text_or_none,
    unique_entries,
)

_VERSION = re.compile(r"^https?://jsonfeed\.org/version/(?P<number>\d+(?:\.\d+)?)/?$")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
NOT_A_JSON_FEED = "JSON that is not a JSON Feed (no 'version': 'https://jsonfeed.org/version/1.1')"


def parse_feed(body: bytes | None, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """Feed bytes of any syntax we read: JSON goes to the JSON Feed reader, everything else to feedparser."""
    if body and is_json(body):
        return parse_json_feed(body, headers, url)
    return parse_feed_bytes(body, headers, url)


def parse_json_feed(body: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """A JSON Feed from bytes; JSON that is broken or not a JSON Feed is named in the problem's note."""
    empty = ParsedFeed(url=url, version=None, title=None, link=None, language=None, entries=())
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        note = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        return replace(empty, problem=ParseProblem.NOT_A_FEED, note=note)
    except (RecursionError, UnicodeDecodeError) as exc:
        return replace(empty, problem=ParseProblem.NOT_A_FEED, note=f"unreadable JSON ({type(exc).__name__})")
    if not is_json_feed(document):
        return replace(empty, problem=ParseProblem.NOT_A_FEED, note=NOT_A_JSON_FEED)
    language = {key.lower(): value for key, value in headers.items()}.get("content-language")
    return json_feed(document, url, language)


def is_json_feed(document: Any) -> bool:
    """A JSON object whose `version` is a jsonfeed.org version URL (the spec's one required marker)."""
    return (
        isinstance(document, Mapping)
        and isinstance(document.get("version"), str)
        and bool(_VERSION.match(document["version"].strip()))
    )


def json_feed(document: Mapping[str, Any], url: str, language_hint: str | None = None) -> ParsedFeed:
    """A decoded JSON Feed (`is_json_feed` holds) as a ParsedFeed; relative URLs resolve against the feed's own URL."""
    match = _VERSION.match(document["version"].strip())
    base = text_or_none(document.get("feed_url")) or url
    language = text_or_none(document.get("language")) or language_hint
    items = document.get("items")
    feed_authors = _authors(document)
    all_entries = [_entry(item, base, language, feed_authors) for item in items] if isinstance(items, list) else []
    entries = unique_entries(all_entries)
    version = f"jsonfeed{match['number'] if match else ''}"
    parsed = ParsedFeed(
        url=url,
        version=version,
        title=text_or_none(document.get("title")),
        link=_url(document.get("home_page_url"), base),
        language=language,
        entries=entries,
        duplicates=len(all_entries) - len(entries),
    )
    if entries:
        return parsed
    why = "without items" if isinstance(items, list) else "whose 'items' is not a list"
    return replace(parsed, problem=ParseProblem.NO_ITEMS, note=f"{version} feed {why}")


def _entry(item: Any, base: str, language: str | None, feed_authors: tuple[str, ...]) -> FeedEntry:
    """One item; one that is not an object keeps its place as an entry without identity (as a broken RSS item does)."""
    if not isinstance(item, Mapping):
        return FeedEntry(None, None, None, None, None, None, None, (), language)
    return FeedEntry(
        guid=_identifier(item.get("id")),
        link=_url(item.get("url"), base),
        title=text_or_none(item.get("title")),
        published=iso_datetime(item.get("date_published")),
        updated=iso_datetime(item.get("date_modified")),
        summary_html=_as_html(item.get("summary")),
        content_html=text_or_none(item.get("content_html")) or _as_html(item.get("content_text")),
        authors=_authors(item) or feed_authors,  # 1.1: an item without authors has the feed's
        language=text_or_none(item.get("language")) or language,
    )


def _authors(node: Mapping[str, Any]) -> tuple[str, ...]:
    """Names from `authors` (1.1), else the single `author` object (1.0)."""
    listed = node.get("authors")
    people = listed if isinstance(listed, list) and listed else [node.get("author")]
    names = (text_or_none(person.get("name")) for person in people if isinstance(person, Mapping))
    return tuple(dict.fromkeys(name for name in names if name))


def _identifier(value: Any) -> str | None:
    """The item id: a string, or a number coerced to one as the spec asks readers to do."""
    if isinstance(value, bool):
        return None
    return text_or_none(str(value)) if isinstance(value, int | float) else text_or_none(value)


def _url(value: Any, base: str) -> str | None:
    text = text_or_none(value)
    return urljoin(base, text) if text else None


def _as_html(value: Any) -> str | None:
    """Plain text (`content_text`, `summary`) as escaped HTML paragraphs, so it takes the path feed HTML takes."""
    text = text_or_none(value)
    if text is None:
        return None
    return "".join(f"<p>{html.escape(part.strip())}</p>" for part in _PARAGRAPH_BREAK.split(text) if part.strip())
