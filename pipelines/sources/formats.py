"""Format readers: the bytes of one input become article drafts, or refusals with a reason a person can act on.

Formats (by extension, case-insensitive):
- `.txt`: one plain-text article; title, dateline and boilerplate are worked out by `normalize`.
- `.html`, `.htm`: one web page; main text and metadata come from trafilatura (`extract`).
- `.json`: one article object, a list of them, or a saved JSON Feed (1.0/1.1, each item an article);
  `.jsonl`: one article object per line. Article fields: `url`, `title`, `published_at` (ISO 8601),
  `body` (plain text) or `html`, optional `authors` (list or string), `language` (ISO 639-1) and
  `source` (outlet name).
- `.xml`, `.rss`, `.atom`: a saved RSS/Atom feed, each item an article (parsed by `feedparse`,
  hostile XML refused, without the HTTP stack).

Readers are pure: no file system, no network. A refusal of the whole input raises `InputError`
(the caller records it); a refusal of one item of it is returned as a `Rejection`.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pipelines.records import ArticleDraft, RawDocument, Rejection
from pipelines.sources.feedparse import ParsedFeed, entry_key, text_or_none
from pipelines.sources.jsonfeed import is_json_feed, json_feed, parse_feed

TEXT_SUFFIXES = {".txt": "text/plain"}
HTML_SUFFIXES = {".html": "text/html", ".htm": "text/html"}
JSON_SUFFIXES = {".json": "application/json", ".jsonl": "application/x-ndjson"}
FEED_SUFFIXES = {".xml": "application/xml", ".rss": "application/rss+xml", ".atom": "application/atom+xml"}
MEDIA_TYPES = {**TEXT_SUFFIXES, **HTML_SUFFIXES, **JSON_SUFFIXES, **FEED_SUFFIXES}

BINARY_SNIFF_BYTES = 8192
CONTROL_CHAR_LIMIT = 0.05
_ALLOWED_CONTROLS = {9, 10, 12, 13}
NEITHER_ARTICLE_NOR_FEED = "neither an article (no non-empty 'body' or 'html') nor a JSON Feed (no 'version': 'https://jsonfeed.org/version/1.1')"


class InputError(ValueError):
    """A file or item that cannot become an article; the message is the human-readable reason."""


def check_content(data: bytes) -> None:
    """Refuse an input with nothing in it before any reader sees it."""
    if not data.strip():
        raise InputError("empty file" if not data else "file contains only whitespace")


def read_drafts(data: bytes, raw: RawDocument, suffix: str) -> tuple[list[ArticleDraft], list[Rejection]]:
    """The drafts in `data` read as format `suffix` (a key of MEDIA_TYPES), and the items refused."""
    if suffix in TEXT_SUFFIXES:
        return [_draft(raw, raw.uri, text=decode_text(data))], []
    if suffix in HTML_SUFFIXES:
        return [_draft(raw, raw.uri, html=_read_html(data))], []
    if suffix in JSON_SUFFIXES:
        return _read_json(decode_text(data), raw, lines=suffix == ".jsonl")
    if suffix in FEED_SUFFIXES:
        return _read_feed(data, raw)
    raise ValueError(f"no reader for {suffix!r}")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16; anything else is refused rather than guessed.

    A cp1251 or latin-1 file decodes "successfully" in many wrong encodings, so guessing would store
    garbled text silently; the reason tells the user how to fix the file instead.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding)
    if _looks_binary(data):
        raise InputError("binary content, not text (NUL or control bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise InputError(
            f"not UTF-8 text: byte 0x{bad:02x} at offset {exc.start} "
            "(a legacy encoding such as cp1251 or latin-1?); re-save the file as UTF-8"
        ) from exc


def _looks_binary(data: bytes) -> bool:
    sample = data[:BINARY_SNIFF_BYTES]
    if b"\x00" in sample:
        return True
    controls = sum(1 for byte in sample if byte < 32 and byte not in _ALLOWED_CONTROLS)
    return controls > CONTROL_CHAR_LIMIT * len(sample)


def _draft(raw: RawDocument, item_key: str, **fields: Any) -> ArticleDraft:
    return ArticleDraft(raw.raw_id, raw.source_id, item_key, raw.uri, raw.fetched_at, **fields)


def _read_html(data: bytes) -> str:
    if _looks_binary(data):
        raise InputError("binary content, not HTML (NUL or control bytes)")
    return decode_html(data)


def decode_html(data: bytes) -> str:
    """HTML declares its charset in the document; trafilatura's decoder honours it."""
    from trafilatura.utils import decode_file

    return decode_file(data)


# --- JSON ----------------------------------------------------------------------------------


def _read_json(text: str, raw: RawDocument, *, lines: bool) -> tuple[list[ArticleDraft], list[Rejection]]:
    """Article objects one by one; a whole `.json` file may instead be a saved JSON Feed."""
    if lines:
        items = list(_json_lines(text))
    else:
        value = _json_value(text)
        if is_json_feed(value):
            return _feed_drafts(json_feed(value, raw.uri), raw)
        if isinstance(value, dict) and not _has_text(value):
            return [], [Rejection(raw.raw_id, "parse", NEITHER_ARTICLE_NOR_FEED, "item 1")]
        items = list(enumerate(value if isinstance(value, list) else [value], start=1))
    drafts: list[ArticleDraft] = []
    rejections: list[Rejection] = []
    for position, loaded in items:
        key = f"{raw.uri}#{position}"
        try:
            drafts.append(_json_article(loaded, raw, key))
        except InputError as exc:
            rejections.append(Rejection(raw.raw_id, "parse", str(exc), f"item {position}"))
    return drafts, rejections


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise InputError("JSON nested too deeply to read") from exc


def _json_lines(text: str) -> Iterator[tuple[int, Any]]:
    """Yield (line number, value); a broken line is yielded as an InputError for that item alone."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, InputError(f"invalid JSON on line {number}, column {exc.colno}: {exc.msg}")
        except RecursionError:  # as in _json_value: one line nested past the parser's depth must not stop the file
            yield number, InputError(f"JSON nested too deeply to read on line {number}")


def _has_text(article: dict[str, Any]) -> bool:
    return any(isinstance(article.get(field), str) and article[field].strip() for field in ("body", "html"))


def _json_article(value: Any, raw: RawDocument, key: str) -> ArticleDraft:
    if isinstance(value, InputError):
        raise value
    if not isinstance(value, dict):
        raise InputError(f"expected an article object, got {type(value).__name__}")
    if not _has_text(value):
        raise InputError("article has neither a non-empty 'body' nor 'html'")
    body, html = value.get("body"), value.get("html")
    authors = value.get("authors") or ()
    if isinstance(authors, str):
        authors = (authors,)
    url = value.get("url")
    return _draft(
        raw,
        url if isinstance(url, str) and url else key,
        url=url if isinstance(url, str) and url else None,
        title=text_or_none(value.get("title")),
        text=body if isinstance(body, str) and body.strip() else None,
        html=None if isinstance(body, str) and body.strip() else html,
        published_at=parse_timestamp(value.get("published_at")),
        authors=tuple(str(author) for author in authors),
        language=text_or_none(value.get("language")),
        outlet=text_or_none(value.get("source")),
    )


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 to an aware UTC datetime; a naive time is taken as UTC; bad values raise with the field name."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InputError(f"published_at must be an ISO 8601 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"published_at is not ISO 8601: {value!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# --- feeds ---------------------------------------------------------------------------------


def _read_feed(data: bytes, raw: RawDocument) -> tuple[list[ArticleDraft], list[Rejection]]:
    """A saved feed goes through the same guarded parser as a fetched one (hostile XML refused)."""
    return _feed_drafts(parse_feed(data, {}, raw.uri), raw)


def _feed_drafts(parsed: ParsedFeed, raw: RawDocument) -> tuple[list[ArticleDraft], list[Rejection]]:
    """Each item of a saved feed (RSS, Atom or JSON Feed) as a draft, or refused when it has no content."""
    if parsed.problem:
        raise InputError(f"feed has no items ({parsed.problem.value}: {parsed.note})")
    drafts: list[ArticleDraft] = []
    rejections: list[Rejection] = []
    for position, entry in enumerate(parsed.entries, start=1):
        html = entry.content_html or entry.summary_html
        key = entry_key(entry.guid, entry.link) or f"{raw.uri}#{position}"
        if not html:
            rejections.append(Rejection(raw.raw_id, "parse", "feed item has no content or summary", key))
            continue
        drafts.append(
            _draft(
                raw,
                key,
                url=entry.link,
                title=entry.title,
                html=html,
                published_at=entry.published or entry.updated,
                authors=entry.authors,
                language=entry.language,
                outlet=parsed.title,
            )
        )
    return drafts, rejections
