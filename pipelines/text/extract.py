"""Main text and metadata from HTML with trafilatura: whole pages, and the HTML fragments feeds carry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

EXTRACTOR_PAGE = "trafilatura"
EXTRACTOR_FRAGMENT = "trafilatura-fragment"
EXTRACTOR_MARKUP_TEXT = "html-text"
EXTRACTOR_PLAIN = "plain-text"

_TAG = re.compile(r"<[a-zA-Z/!][^>]*>")
_PAGE = re.compile(r"(?i)<(?:html|body|head)\b")
_BLOCK_BREAK = re.compile(r"(?i)<\s*(?:br|/p|/div|/li|/h[1-6]|/blockquote)\b[^>]*>")
# libxml2 (lxml, so trafilatura) stops reading an HTML tree 256 elements deep and drops everything below, so a
# page wrapped in thousands of <div>s came out empty. A run of one tag opened (or closed) again and again with
# nothing but whitespace between adds depth and no content: runs longer than WRAPPER_RUN are read as one tag.
WRAPPER_RUN = 32
_OPENING_RUN = re.compile(rf"<([a-zA-Z][\w-]*)\b[^>]*>(?:\s*<\1\b[^>]*>){{{WRAPPER_RUN},}}")
_CLOSING_RUN = re.compile(rf"</([a-zA-Z][\w-]*)\s*>(?:\s*</\1\s*>){{{WRAPPER_RUN},}}")


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str
    title: str | None
    authors: tuple[str, ...]
    published_at: datetime | None
    language: str | None
    sitename: str | None
    url: str | None
    extractor: str


def plain_text(text: str) -> Extracted | None:
    """Text that arrived as text (a .txt file, a JSON `body`) is taken as is: tags in it are just characters."""
    text = text.strip()
    return _text_only(text, EXTRACTOR_PLAIN) if text else None


def extract_html(html: str, url: str | None = None) -> Extracted | None:
    """A whole page goes through trafilatura's page extraction; a fragment (feed content) is wrapped first."""
    if _PAGE.search(html[:4096]):
        return extract_page(html, url)
    return extract_fragment(html)


def extract_page(html: str, url: str | None = None) -> Extracted | None:
    """A whole web page: trafilatura finds the main text and reads title, author, date and site name.

    The date comes from htmldate's markup and URL rules, not its extensive search: that search hands
    free-text strings to dateparser, which tries every locale it knows on the first one no rule reads
    (3 CPU-s per process), and on real pages what it adds is mostly a bare year taken for January 1st.
    """
    from trafilatura import bare_extraction
    from trafilatura.settings import Document, set_date_params

    document = bare_extraction(
        flatten_wrapper_runs(html),
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params=set_date_params(extensive=False),
    )
    if not isinstance(document, Document) or not document.text or not document.text.strip():
        return None  # nothing found (without as_dict, trafilatura gives a Document or None)
    return Extracted(
        text=document.text,
        title=document.title or None,
        authors=_split_authors(document.author),
        published_at=_date(document.date),
        language=document.language or None,
        sitename=document.sitename or None,
        url=document.url or url,
        extractor=EXTRACTOR_PAGE,
    )


def extract_fragment(html: str) -> Extracted | None:
    """Feed content: an HTML fragment (or plain text) with no page around it; trafilatura needs an article wrapper."""
    if not _TAG.search(html):
        return plain_text(html)
    from trafilatura import bare_extraction
    from trafilatura.settings import Document

    html = flatten_wrapper_runs(html)
    document = bare_extraction(f"<html><body><article>{html}</article></body></html>", include_comments=False)
    if isinstance(document, Document) and document.text and document.text.strip():
        return _text_only(document.text, EXTRACTOR_FRAGMENT)
    text = _markup_text(html)
    return _text_only(text, EXTRACTOR_MARKUP_TEXT) if text else None


def flatten_wrapper_runs(html: str) -> str:
    """`html` with each run of more than WRAPPER_RUN identical opening (or closing) tags read as its first one.

    Only tags with nothing but whitespace between them are joined, so no text moves or is lost; an ordinary
    page has no such run and comes back unchanged.
    """
    if "<" not in html:
        return html
    return _CLOSING_RUN.sub(r"</\1>", _OPENING_RUN.sub(lambda run: run.group(0)[: run.group(0).index(">") + 1], html))


def _text_only(text: str, extractor: str) -> Extracted:
    return Extracted(text, None, (), None, None, None, None, extractor)


def _markup_text(html: str) -> str:
    """Last resort for fragments trafilatura rejects as too short: keep line breaks, drop tags and entities."""
    import lxml.html

    marked = _BLOCK_BREAK.sub("\n", html)
    try:
        return lxml.html.fromstring(f"<div>{marked}</div>").text_content().strip()
    except (ValueError, lxml.etree.ParserError):
        return ""


def _split_authors(author: str | None) -> tuple[str, ...]:
    if not author:
        return ()
    return tuple(part.strip() for part in re.split(r";|\band\b", author) if part.strip())


def _date(value: str | None) -> datetime | None:
    """trafilatura returns YYYY-MM-DD (via htmldate); the day is all a page reliably says, stored as midnight UTC."""
    if not value:
        return None
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
