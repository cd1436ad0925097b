"""A fleet of fake news sites on loopback: N hosts, one process, for benchmarks and tests of polling many feeds.

`newsfake.py` is one site on 127.0.0.1; politeness limits are kept per host, so one site cannot show how
the pipeline polls a thousand feeds at once. Here the i-th site (0-based) has an address of its own,
counting up from 127.0.1.2 and skipping last octets 0 and 255 (on Linux all of 127.0.0.0/8 is loopback,
so each address is a distinct host to the HTTP client), and every site listens on the same port.
Nothing here binds to or sends to anything but loopback. Routes (GET only, every response delayed by
`--latency` seconds, like a real site):

| path | serves |
|---|---|
| /robots.txt | `User-agent: *` / `Allow: /` |
| /feed.xml | RSS 2.0, the site's items newest first, with ETag and Last-Modified; 304 when they match |
| /articles/<k>.html | item k's page: meta tags, header (navigation, cookie, subscribe banners), `<article>`, footer |
| /loop-a, /loop-b | on `loop` sites only: 302 to each other |

Item k of site i is published at `base_time + k * 10 min + i s` (base_time: start-up, to the second, minus
a day) and carries text number g = i * items + k (items published later continue after all initial items:
g = sites * items + (k - items) * sites + i). Texts are real news from ../shared/corpora, in sorted
order by source and name, the list reused modulo its length (a fleet of more items than texts serves some
texts twice, as exact duplicates under other URLs): PolNeAR and ECB+ plain texts (non-empty lines are
paragraphs, the first is the title, leading URL lines dropped) and news-html pages, whose `<p>`
paragraphs of 8 or more words (inside the first `<article>`, else `<body>`, after dropping script,
navigation, header, footer, aside, form and figure) are taken with lxml, og:title or `<title>` as the
title, pages repeating an earlier body skipped; these keep some of their page's own noise (a
copyright or "write to" line). Texts under 80 words are skipped. Without ../shared, texts are generated
(deterministic, seeded by g, every item distinct).

Misbehaving sites take the last places of the fleet; only their /feed.xml misbehaves: `hang` (200, then
a byte every 0.5 s for up to 120 s), `error` (500), `loop` (302 to /loop-a, then between /loop-a and
/loop-b forever), `bomb` (gzip that inflates to 200 MB of zeros).

Control API on 127.0.0.1 (JSON): GET /stats, GET /sites, POST /publish?sites=10&items=1,
POST /publish?share=0.01&items=1, POST /reset. Run it (the pipeline must be told loopback is allowed:
NEWSFLOW_ALLOW_HOSTS=127.0.0.0/8):

    python tests/fleet.py --sites 1000 [--items 3] [--latency 0.1] [--hang N] [--error N] [--loop N]
                          [--bomb N] [--control-port 0] [--shared-dir PATH]

It prints one JSON line once listening, `{"control": URL, "port": N, "sites": N, "texts": "shared" |
"generated", "text_count": N | null}`, and serves until SIGTERM, SIGINT or EOF on stdin (when stdin is a
pipe, socket or terminal: a parent holding the pipe takes the fleet with it; /dev/null is not watched,
so `python tests/fleet.py ... &` keeps serving). From Python, `FleetProcess` runs it as a subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import html
import ipaddress
import json
import os
import random
import re
import resource
import select
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self, cast
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape as xml_escape

FIRST_ADDRESS = ipaddress.IPv4Address("127.0.1.2")
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
CONTROL_HOST = "127.0.0.1"
DEFAULT_SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
SITE_KINDS = ("good", "hang", "error", "loop", "bomb")  # misbehaving kinds fill the fleet's tail in this order
REQUEST_KINDS = ("robots", "feed", "article", "other")
ITEM_SPACING = timedelta(minutes=10)
MIN_WORDS = 80
MIN_PARAGRAPH_WORDS = 8  # shorter paragraphs are datelines, captions and buttons: not in news-html texts, nor a lead
ROBOTS_TXT = b"User-agent: *\nAllow: /\n"
RSS = "application/rss+xml; charset=utf-8"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
DRIP_INTERVAL = 0.5
DRIP_SECONDS = 120
BOMB_BYTES = 200 * 1024 * 1024
BOMB_STEP = 1024 * 1024
IDLE_SECONDS = 30  # a keep-alive connection with no new request is closed after this
MAX_REQUEST_BODY = 1024 * 1024  # bodies are read and ignored up to this; a larger one is refused
BIND_ATTEMPTS = 20
LOOP_REDIRECTS = {"/loop-a": "/loop-b", "/loop-b": "/loop-a"}
ARTICLE_PATH = re.compile(r"/articles/(0|[1-9][0-9]*)\.html")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’]?\s+")
AUTHORS = (
    "Maria Lopez",
    "James O'Connor",
    "Aisha Bello",
    "Henrik Larsen",
    "Chen Wei",
    "Olivia Grant",
    "Rahul Mehta",
    "Sophie Dubois",
    "Kwame Asante",
    "Laura Fischer",
    "Diego Ramirez",
    "Yuki Tanaka",
)

_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{title}</title>
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{site}">
<meta property="article:published_time" content="{published}">
<meta name="author" content="{author}">
<link rel="canonical" href="{url}">
<link rel="alternate" type="application/rss+xml" title="{site}" href="{base}/feed.xml">
</head>
<body>
<header>
<a class="logo" href="{base}/">{site}</a>
<nav><ul><li><a href="{base}/world/">World</a></li><li><a href="{base}/politics/">Politics</a></li>\
<li><a href="{base}/business/">Business</a></li><li><a href="{base}/science/">Science</a></li>\
<li><a href="{base}/sport/">Sport</a></li><li><a href="{base}/opinion/">Opinion</a></li></ul></nav>
<div class="cookie-banner"><p>We use cookies to personalise content and ads and to analyse our traffic. \
By continuing to browse this site you accept our <a href="{base}/cookies">cookie policy</a>.</p>\
<button>Accept all</button></div>
<div class="subscribe-banner"><p>Subscribe to {site} for unlimited access to award-winning journalism. \
<a href="{base}/subscribe">Subscribe now</a></p></div>
</header>
<main>
<article>
<h1>{title}</h1>
{body}
</article>
</main>
<footer>
<nav><a href="{base}/about">About us</a> | <a href="{base}/contact">Contact</a> | \
<a href="{base}/privacy">Privacy</a> | \
<a href="{base}/terms">Terms of use</a></nav>
<p>&copy; {year} {site}. All rights reserved. No part of this site may be reproduced without permission.</p>
</footer>
</body>
</html>
"""
_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>{site}</title><link>{base}/</link><description>News from {site}, part of the newsflow test fleet.</description>
<lastBuildDate>{updated}</lastBuildDate>
{items}
</channel></rss>
"""
_ITEM = (
    '<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>'
    "<pubDate>{date}</pubDate><description>{description}</description></item>"
)


# --- texts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """An article's title and body paragraphs."""

    title: str
    paragraphs: tuple[str, ...]

    @property
    def words(self) -> int:
        return sum(len(paragraph.split()) for paragraph in self.paragraphs)

    @property
    def lead(self) -> str:
        """The first sentence of the first real paragraph (not a dateline), for a feed item's description."""
        first = next((p for p in self.paragraphs if len(p.split()) >= MIN_PARAGRAPH_WORDS), self.title)
        return _SENTENCE_END.split(first, maxsplit=1)[0]


def clean(line: str) -> str:
    return " ".join(_CONTROL_CHARS.sub(" ", line).split())


def text_from_lines(lines: list[str]) -> Text | None:
    """Plain text: non-empty lines are paragraphs, the first (after leading URLs) the title."""
    kept = [clean(line) for line in lines if line.strip()]
    while kept and kept[0].startswith(("http://", "https://")):
        kept.pop(0)
    return Text(kept[0], tuple(kept[1:])) if kept else None


def polnear_texts(corpora: Path) -> Iterator[tuple[tuple[str, str], Text | None]]:
    for split in ("polnear-dev", "polnear-train"):
        for path in sorted((corpora / split / "text").glob("*.txt")):
            yield (split, path.name), text_from_lines(path.read_text(encoding="utf-8").splitlines())


def ecbplus_texts(corpora: Path) -> Iterator[tuple[tuple[str, str], Text | None]]:
    path = corpora / "ecbplus-events-dev" / "docs.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            doc = json.loads(line)
            yield ("ecbplus-events-dev", doc["doc"]), text_from_lines(doc["text"].splitlines())


def html_text(page: bytes) -> Text | None:
    """A real page's title and body paragraphs, read with lxml (see the module docstring)."""
    import lxml.html  # only when news-html is there: the rest of the module is stdlib

    try:
        page.decode("utf-8")
        parser = lxml.html.HTMLParser(encoding="utf-8")
    except UnicodeDecodeError:
        parser = None  # not UTF-8: lxml goes by the page's own charset declaration
    doc = lxml.html.document_fromstring(page, parser=parser)
    for dropped in doc.xpath("//script|//style|//noscript|//nav|//header|//footer|//aside|//form|//figure"):
        dropped.drop_tree()
    scope = doc.xpath("//article") or doc.xpath("//body")
    if not scope:
        return None
    paragraphs = tuple(
        p for p in (clean(e.text_content()) for e in scope[0].iter("p")) if len(p.split()) >= MIN_PARAGRAPH_WORDS
    )
    title = clean(doc.xpath("string(//meta[@property='og:title']/@content)") or doc.findtext(".//title") or "")
    return Text(title or Text("", paragraphs).lead, paragraphs)


def news_html_texts(corpora: Path) -> Iterator[tuple[tuple[str, str], Text | None]]:
    root = corpora / "news-html"
    seen: set[tuple[str, ...]] = set()
    for path in sorted(root.rglob("*.html")):
        text = html_text(path.read_bytes())
        if text is None or text.paragraphs in seen:
            continue
        seen.add(text.paragraphs)
        yield ("news-html", str(path.relative_to(root))), text


def load_texts(corpora: Path) -> list[Text]:
    """Every usable text of the shared corpora, sorted by source and name."""
    found = [*polnear_texts(corpora), *ecbplus_texts(corpora), *news_html_texts(corpora)]
    return [text for _, text in sorted(found, key=lambda pair: pair[0]) if text and text.words >= MIN_WORDS]


_PEOPLE = (
    "Amara Okafor",
    "Daniel Whitfield",
    "Sofia Marchetti",
    "Kenji Watanabe",
    "Leila Haddad",
    "Tomasz Nowak",
    "Grace Mensah",
    "Rafael Ortega",
    "Ingrid Johansson",
    "Priya Raman",
    "Owen Gallagher",
    "Mei Lin Chen",
    "Samuel Adeyemi",
    "Hannah Keller",
    "Lucas Moreau",
    "Fatima Zahra",
    "Victor Almeida",
    "Nadia Petrova",
    "Jonah Brooks",
    "Elena Vasquez",
)
_PLACES = (
    "Lisbon",
    "Nairobi",
    "Manchester",
    "Osaka",
    "Winnipeg",
    "Porto Alegre",
    "Gdansk",
    "Accra",
    "Brisbane",
    "Lyon",
    "Tucson",
    "Bergen",
    "Chennai",
    "Valparaiso",
    "Tallinn",
    "Cork",
    "Halifax",
    "Mombasa",
    "Krakow",
    "Dunedin",
)
_ORGS = (
    "the city council",
    "the Ministry of Health",
    "the regional water authority",
    "the teachers' union",
    "the national rail operator",
    "the port authority",
    "the chamber of commerce",
    "the environmental agency",
    "the central bank",
    "the university hospital",
    "the fire service",
    "the farmers' association",
)
_ROLES = (
    "spokeswoman",
    "spokesman",
    "director",
    "chief executive",
    "mayor",
    "minister",
    "chairwoman",
    "senior analyst",
    "union leader",
    "police chief",
    "professor",
    "deputy governor",
)
_TOPICS = (
    "the new tram line",
    "flood defences",
    "a strike by teachers",
    "rising rents",
    "the harbour expansion",
    "the drought",
    "hospital waiting lists",
    "next year's budget",
    "the wildfire season",
    "a data breach at the tax office",
    "higher bus fares",
    "the stadium plan",
    "a measles outbreak",
    "fishing quotas",
    "the local election",
    "repeated power cuts",
    "the closure of the steelworks",
    "plans for a wind farm",
)
_OUTCOMES = (
    "be delayed until the spring",
    "cost far more than promised",
    "go ahead despite the protests",
    "be reviewed by an independent panel",
    "need help from the national government",
    "be put to a public vote",
    "affect thousands of families",
    "be settled in court",
)
_QUOTES = (
    "We have waited long enough for answers",
    "Nobody in this town wants to see that happen again",
    "The numbers simply do not add up",
    "We are doing everything we can with the money we have",
    "This is a good day for the whole region",
    "People deserve to know what went wrong",
    "It is too early to say how long the repairs will take",
    "We warned them about this two years ago",
    "Our members are angry, and they have every right to be",
    "The next few weeks will be decisive",
)
_REACTIONS = (
    "gathered outside the town hall",
    "queued for hours at the temporary office",
    "signed an open letter",
    "blocked the main road for an afternoon",
    "packed a public meeting",
    "complained to their representatives",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "March", "April", "June", "August", "September", "October", "December")
_SENTENCES = (
    "{person}, the {role} of {org}, said on {day} that {topic} would {outcome}.",
    '"{quote}," said {person}, {role} of {org}.',
    '"{quote}," {person} told reporters in {place}. "{quote2}."',
    "Officials in {place} said {number} people had been affected by {topic} since {day}.",
    "Critics, including {person}, said the handling of {topic} showed that {org} had ignored earlier warnings.",
    "The plan, first announced in {month}, would {outcome}, according to {org}.",
    "Residents of {place} {reaction} on {day}, and {person} said the protests would continue.",
    "Figures published by {org} in {month} showed a rise of {percent} percent over the previous year.",
)


@functools.lru_cache(maxsize=8192)
def generated_text(number: int) -> Text:
    """A news-like article when ../shared is absent: people, places, and quoted speech, seeded by `number`."""
    rnd = random.Random(number)
    topic, place = rnd.choice(_TOPICS), rnd.choice(_PLACES)

    def sentence() -> str:
        return rnd.choice(_SENTENCES).format(
            person=rnd.choice(_PEOPLE),
            role=rnd.choice(_ROLES),
            org=rnd.choice(_ORGS),
            day=rnd.choice(_DAYS),
            topic=topic,
            outcome=rnd.choice(_OUTCOMES),
            quote=rnd.choice(_QUOTES),
            quote2=rnd.choice(_QUOTES),
            place=place,
            number=rnd.randint(3, 900),
            percent=rnd.randint(2, 40),
            month=rnd.choice(_MONTHS),
            reaction=rnd.choice(_REACTIONS),
        )

    paragraphs = tuple(" ".join(sentence() for _ in range(rnd.randint(2, 3))) for _ in range(rnd.randint(6, 9)))
    title = f"{place}: {topic[0].upper()}{topic[1:]} could {rnd.choice(_OUTCOMES)}"
    return Text(title, paragraphs)


@dataclass(frozen=True)
class Library:
    """Where article texts come from: the shared corpora in order, or the generator."""

    origin: str  # "shared" | "generated"
    texts: tuple[Text, ...] = ()

    def text(self, number: int) -> Text:
        return self.texts[number % len(self.texts)] if self.texts else generated_text(number)

    @property
    def count(self) -> int | None:
        """Distinct texts before they repeat; None when generated (they never do)."""
        return len(self.texts) or None


def load_library(shared_dir: Path) -> Library:
    corpora = shared_dir / "corpora"
    texts = load_texts(corpora) if corpora.is_dir() else []
    return Library("shared", tuple(texts)) if texts else Library("generated")


# --- HTTP/1.1 on asyncio streams ------------------------------------------------------------------


class BadRequest(Exception):
    """A request we cannot read: answered with `status`, then the connection is closed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    keep_alive: bool


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = TEXT
    headers: tuple[tuple[str, str], ...] = ()
    stream: Callable[[], AsyncIterator[bytes]] | None = None  # a body without length, ended by closing


Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[bool]]


def wants_keep_alive(version: str, headers: dict[str, str]) -> bool:
    tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    return "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on the connection, its body read and ignored; None when the client is done or idle."""
    try:
        async with asyncio.timeout(IDLE_SECONDS):
            head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, TimeoutError):
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest(431) from None
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[0] or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise BadRequest(400)
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in filter(None, header_lines):
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400)
        headers[name.lower()] = value.strip()
    keep_alive = await skip_body(reader, headers) and wants_keep_alive(version, headers)
    url = urlsplit(target)
    return Request(method, url.path, parse_qs(url.query), headers, keep_alive)


async def skip_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bool:
    """Read a request body away; False when the connection cannot be reused after it (chunked bodies)."""
    if "transfer-encoding" in headers:
        return False
    length = headers.get("content-length", "0")
    if not length.isdigit():
        raise BadRequest(400)
    if int(length) > MAX_REQUEST_BODY:
        raise BadRequest(413)
    await reader.readexactly(int(length))
    return True


async def send(writer: asyncio.StreamWriter, response: Response, keep_alive: bool) -> bool:
    """Write one response; True when the connection stays open for the next request."""
    keep_alive = keep_alive and response.stream is None
    lines = [
        f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}",
        f"Date: {formatdate(usegmt=True)}",
        "Server: newsflow-fleet",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    if response.status != 304:
        lines.append(f"Content-Type: {response.content_type}")
        if response.stream is None:
            lines.append(f"Content-Length: {len(response.body)}")
    lines += [f"{name}: {value}" for name, value in response.headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)
    await writer.drain()
    if response.stream is not None:
        async for chunk in response.stream():
            writer.write(chunk)
            await writer.drain()
    return keep_alive


async def serve_connection(handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Requests on one connection, one after another, until either side closes it (a client hanging up is no error)."""
    try:
        try:
            while (request := await read_request(reader)) is not None and await handler(request, writer):
                pass
        except BadRequest as refused:
            await send(writer, Response(refused.status, HTTPStatus(refused.status).phrase.encode()), keep_alive=False)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    except asyncio.CancelledError:
        pass  # shutdown; ended quietly, as asyncio 3.11 would log a cancelled connection task as an error
    finally:
        writer.close()


# --- the fleet -----------------------------------------------------------------------------------


@dataclass
class Counters:
    """Requests of one site, or of the whole fleet."""

    requests: Counter[str] = field(default_factory=Counter)  # by request kind
    not_modified: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    def enter(self, kind: str) -> None:
        self.requests[kind] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self, status: int) -> None:
        self.in_flight -= 1
        if status == 304:
            self.not_modified += 1

    def reset(self) -> None:
        self.requests.clear()
        self.not_modified = 0
        self.max_in_flight = self.in_flight

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": sum(self.requests.values()),
            "by_kind": {kind: self.requests[kind] for kind in REQUEST_KINDS},
            "not_modified": self.not_modified,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


@dataclass(frozen=True)
class Feed:
    body: bytes
    etag: str
    last_modified: datetime


@dataclass
class Site:
    index: int
    host: str
    kind: str
    items: int
    base: str = ""  # http://host:port, once the port is known
    counters: Counters = field(default_factory=Counters)
    feed: Feed | None = None  # rendered on demand, dropped when items are published

    @property
    def feed_url(self) -> str:
        return f"{self.base}/feed.xml"


def site_addresses(count: int) -> list[str]:
    """`count` loopback addresses from 127.0.1.2 up, none ending in .0 or .255."""
    addresses: list[str] = []
    address = FIRST_ADDRESS
    while len(addresses) < count:
        if address not in LOOPBACK:
            raise ValueError(f"{count} sites do not fit in {LOOPBACK}")
        if int(address) & 0xFF not in (0, 255):
            addresses.append(str(address))
        address += 1
    return addresses


def site_kinds(count: int, misbehaving: dict[str, int]) -> list[str]:
    tail = [kind for kind in SITE_KINDS[1:] for _ in range(misbehaving.get(kind, 0))]
    if len(tail) > count:
        raise ValueError(f"{len(tail)} misbehaving sites in a fleet of {count}")
    return ["good"] * (count - len(tail)) + tail


def gzip_bomb() -> bytes:
    """BOMB_BYTES of zeros, gzip-compressed a step at a time (never held inflated)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(BOMB_STEP)
    return b"".join(compressor.compress(zeros) for _ in range(BOMB_BYTES // BOMB_STEP)) + compressor.flush()


def matches_validators(headers: dict[str, str], feed: Feed) -> bool:
    """If-None-Match decides when sent; otherwise If-Modified-Since not older than Last-Modified."""
    if (tags := headers.get("if-none-match")) is not None:
        return any(tag.strip().removeprefix("W/") in (feed.etag, "*") for tag in tags.split(","))
    try:
        since = parsedate_to_datetime(headers["if-modified-since"])
    except (KeyError, TypeError, ValueError):
        return False
    return (since if since.tzinfo else since.replace(tzinfo=UTC)) >= feed.last_modified


def request_kind(path: str) -> str:
    if path == "/robots.txt":
        return "robots"
    if path == "/feed.xml":
        return "feed"
    return "article" if ARTICLE_PATH.fullmatch(path) else "other"


async def drip() -> AsyncIterator[bytes]:
    for _ in range(int(DRIP_SECONDS / DRIP_INTERVAL)):
        await asyncio.sleep(DRIP_INTERVAL)
        yield b" "


class Fleet:
    """The sites' content, publishing and counters; `handle_site` and `handle_control` answer requests."""

    def __init__(self, sites: int, items: int, latency: float, misbehaving: dict[str, int], library: Library) -> None:
        self.items_per_feed = items
        self.latency = latency
        self.library = library
        places = zip(site_addresses(sites), site_kinds(sites, misbehaving), strict=True)
        self.sites = [Site(index, host, kind, items) for index, (host, kind) in enumerate(places)]
        self.good = [site for site in self.sites if site.kind == "good"]
        self.base_time = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        self.bomb = gzip_bomb() if misbehaving.get("bomb") else b""
        self.counters = Counters()
        self.port = 0
        self.feed_responses = {
            "good": self.good_feed,
            "hang": self.hanging_feed,
            "error": self.failing_feed,
            "loop": self.looping_feed,
            "bomb": self.bomb_feed,
        }

    def listening_on(self, port: int) -> None:
        self.port = port
        for site in self.sites:
            site.base = f"http://{site.host}:{port}"

    # --- content ---

    def text_number(self, site: Site, k: int) -> int:
        """Initial items number 0.. site by site; later ones continue after all of them, round by round."""
        n, per_feed = len(self.sites), self.items_per_feed
        return site.index * per_feed + k if k < per_feed else n * per_feed + (k - per_feed) * n + site.index

    def published(self, site: Site, k: int) -> datetime:
        return self.base_time + k * ITEM_SPACING + timedelta(seconds=site.index)

    def render_feed(self, site: Site) -> Feed:
        newest = self.published(site, site.items - 1)
        items = "\n".join(self.render_item(site, k) for k in reversed(range(site.items)))
        body = _FEED.format(
            site=f"Fleet site {site.index}", base=site.base, items=items, updated=format_datetime(newest, usegmt=True)
        ).encode()
        return Feed(body, f'"{hashlib.sha256(body).hexdigest()[:20]}"', newest)

    def render_item(self, site: Site, k: int) -> str:
        text = self.library.text(self.text_number(site, k))
        return _ITEM.format(
            title=xml_escape(text.title),
            link=f"{site.base}/articles/{k}.html",
            guid=f"site{site.index}-item{k}",
            date=format_datetime(self.published(site, k), usegmt=True),
            description=xml_escape(text.lead),
        )

    def article(self, site: Site, k: int) -> bytes:
        number = self.text_number(site, k)
        text = self.library.text(number)
        return _PAGE.format(
            title=html.escape(text.title),
            site=f"Fleet site {site.index}",
            base=site.base,
            url=f"{site.base}/articles/{k}.html",
            published=self.published(site, k).isoformat(),
            author=html.escape(AUTHORS[number % len(AUTHORS)]),
            year=self.base_time.year,
            body="\n".join(f"<p>{html.escape(paragraph, quote=False)}</p>" for paragraph in text.paragraphs),
        ).encode()

    # --- routes ---

    def respond(self, site: Site, request: Request) -> Response:
        if request.method != "GET":
            return Response(405, b"GET only", headers=(("Allow", "GET"),))
        if request.path == "/robots.txt":
            return Response(200, ROBOTS_TXT)
        if request.path == "/feed.xml":
            return self.feed_responses[site.kind](site, request)
        if (match := ARTICLE_PATH.fullmatch(request.path)) and int(match[1]) < site.items:
            return Response(200, self.article(site, int(match[1])), HTML)
        if site.kind == "loop" and request.path in LOOP_REDIRECTS:
            return Response(302, headers=(("Location", site.base + LOOP_REDIRECTS[request.path]),))
        return Response(404, b"not found")

    def good_feed(self, site: Site, request: Request) -> Response:
        if site.feed is None:
            site.feed = self.render_feed(site)
        validators = (
            ("ETag", site.feed.etag),
            ("Last-Modified", format_datetime(site.feed.last_modified, usegmt=True)),
        )
        if matches_validators(request.headers, site.feed):
            return Response(304, headers=validators)
        return Response(200, site.feed.body, RSS, validators)

    def hanging_feed(self, site: Site, request: Request) -> Response:
        return Response(200, content_type=RSS, stream=drip)

    def failing_feed(self, site: Site, request: Request) -> Response:
        return Response(500, b"internal server error")

    def looping_feed(self, site: Site, request: Request) -> Response:
        return Response(302, headers=(("Location", f"{site.base}/loop-a"),))

    def bomb_feed(self, site: Site, request: Request) -> Response:
        return Response(200, self.bomb, RSS, (("Content-Encoding", "gzip"),))

    async def handle_site(self, site: Site, request: Request, writer: asyncio.StreamWriter) -> bool:
        """Count, wait the latency, answer; in flight from the request's arrival until its response is written."""
        tallies = (site.counters, self.counters)
        for tally in tallies:
            tally.enter(request_kind(request.path))
        status = 0  # not answered: the client left, or the fleet is stopping
        try:
            await asyncio.sleep(self.latency)
            response = self.respond(site, request)
            status = response.status
            return await send(writer, response, request.keep_alive)
        finally:
            for tally in tallies:
                tally.leave(status)

    # --- control ---

    def publish(self, sites: int, items: int) -> list[int]:
        """`items` new items on each of the first `sites` good sites; their indexes."""
        if sites < 0 or items < 0:
            raise ValueError("sites and items are counts")
        chosen = self.good[:sites]
        for site in chosen:
            site.items += items
            site.feed = None
        return [site.index for site in chosen]

    def publish_share(self, share: float, items: int) -> list[int]:
        """The same on a share of the good sites (rounded, at least one when the share is above 0)."""
        if not 0 <= share <= 1:
            raise ValueError("a share is between 0 and 1")
        return self.publish(max(round(share * len(self.good)), 1) if share else 0, items)

    def reset(self) -> None:
        self.counters.reset()
        for site in self.sites:
            site.counters.reset()

    def site_list(self) -> list[dict[str, Any]]:
        return [{"site": site.index, "url": site.feed_url, "kind": site.kind} for site in self.sites]

    def stats(self) -> dict[str, Any]:
        per_site = [
            {"site": site.index, "host": site.host, "kind": site.kind, "items": site.items, **site.counters.as_dict()}
            for site in self.sites
        ]
        busiest = max(site.counters.max_in_flight for site in self.sites)
        return {
            "sites": len(self.sites),
            "port": self.port,
            "latency": self.latency,
            **self.counters.as_dict(),
            "max_site_in_flight": busiest,
            "per_site": per_site,
        }

    def control(self, request: Request) -> tuple[int, Any]:
        route = (request.method, request.path)
        if route == ("GET", "/stats"):
            return 200, self.stats()
        if route == ("GET", "/sites"):
            return 200, self.site_list()
        if route == ("POST", "/reset"):
            self.reset()
            return 200, {"reset": True}
        if route == ("POST", "/publish"):
            return self.control_publish(request.query)
        known = request.path in ("/stats", "/sites", "/reset", "/publish")
        return (405, {"error": "wrong method"}) if known else (404, {"error": "no such route"})

    def control_publish(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            items = int(query.get("items", ["1"])[0])
            if "share" in query:
                published = self.publish_share(float(query["share"][0]), items)
            else:
                published = self.publish(int(query["sites"][0]), items)
        except (KeyError, ValueError):
            return 400, {"error": "publish needs items and sites (a count) or share (0..1)"}
        return 200, {"published": published, "items": items}

    async def handle_control(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        status, payload = self.control(request)
        return await send(
            writer, Response(status, json.dumps(payload).encode(), "application/json"), request.keep_alive
        )


# --- running it ----------------------------------------------------------------------------------


def raise_open_files_limit() -> None:
    """A thousand listening sockets and their connections need more descriptors than the usual soft limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    with contextlib.suppress(ValueError, OSError):  # the soft limit stays; a fleet too big for it fails to bind
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def bind_sites(fleet: Fleet) -> list[asyncio.Server]:
    """One server per site on one port free on every address, trying another port when a bind fails."""
    last_error: OSError | None = None
    for _ in range(BIND_ATTEMPTS):
        servers: list[asyncio.Server] = []
        try:
            port = 0
            for site in fleet.sites:
                callback = functools.partial(serve_connection, functools.partial(fleet.handle_site, site))
                servers.append(await asyncio.start_server(callback, host=site.host, port=port))
                port = port or servers[0].sockets[0].getsockname()[1]
        except OSError as error:
            last_error = error
            for server in servers:
                server.close()
            continue
        fleet.listening_on(port)
        return servers
    raise OSError(f"no port free on all {len(fleet.sites)} addresses: {last_error}")


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Stop at EOF on stdin when it is a pipe, socket or terminal (not /dev/null or a file)."""
    mode = os.fstat(sys.stdin.fileno()).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or sys.stdin.isatty()):
        return

    def wait_for_eof() -> None:
        while os.read(sys.stdin.fileno(), 65536):
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_eof, name="stdin-eof", daemon=True).start()


async def serve(args: argparse.Namespace) -> None:
    raise_open_files_limit()
    misbehaving = {"hang": args.hang, "error": args.error, "loop": args.loop, "bomb": args.bomb}
    fleet = Fleet(args.sites, args.items, args.latency, misbehaving, load_library(args.shared_dir))
    servers = await bind_sites(fleet)
    control = await asyncio.start_server(
        functools.partial(serve_connection, fleet.handle_control), host=CONTROL_HOST, port=args.control_port
    )
    control_port = control.sockets[0].getsockname()[1]
    print(
        json.dumps(
            {
                "control": f"http://{CONTROL_HOST}:{control_port}",
                "port": fleet.port,
                "sites": len(fleet.sites),
                "texts": fleet.library.origin,
                "text_count": fleet.library.count,
            }
        ),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watch_stdin(loop, stop)
    await stop.wait()
    for server in [*servers, control]:
        server.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A fleet of fake news sites on loopback addresses.")
    parser.add_argument("--sites", type=int, default=200, help="number of sites (127.0.1.2 and up)")
    parser.add_argument("--items", type=int, default=3, help="items in each good site's feed at start")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds before every response")
    for kind in SITE_KINDS[1:]:
        parser.add_argument(f"--{kind}", type=int, default=0, help=f"sites whose feed is '{kind}' (the last ones)")
    parser.add_argument("--control-port", type=int, default=0, help="control API port on 127.0.0.1 (0: any free)")
    parser.add_argument(
        "--shared-dir", type=Path, default=DEFAULT_SHARED_DIR, help="the shared folder holding corpora/"
    )
    args = parser.parse_args(argv)
    if args.sites < 1 or args.items < 1 or args.latency < 0:
        parser.error("--sites and --items must be at least 1, --latency not negative")
    if (
        min(args.hang, args.error, args.loop, args.bomb) < 0
        or args.hang + args.error + args.loop + args.bomb > args.sites
    ):
        parser.error("misbehaving sites must be counts that fit in --sites")
    return args


# --- from Python ---------------------------------------------------------------------------------


class FleetProcess:
    """`python tests/fleet.py` as a subprocess, started on construction, with its control API as methods.

    with FleetProcess(sites=1000, hang=2) as fleet:
        write_feeds_yaml(tmp / "feeds.yaml", fleet.feed_urls(), poll_minutes=5)
        ...
        assert fleet.stats()["max_site_in_flight"] <= 2  # per-host politeness held
    """

    def __init__(
        self,
        sites: int = 200,
        *,
        items: int = 3,
        latency: float = 0.1,
        hang: int = 0,
        error: int = 0,
        loop: int = 0,
        bomb: int = 0,
        shared_dir: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--sites",
            str(sites),
            "--items",
            str(items),
            "--latency",
            str(latency),
            "--hang",
            str(hang),
            "--error",
            str(error),
            "--loop",
            str(loop),
            "--bomb",
            str(bomb),
        ]
        if shared_dir is not None:
            command += ["--shared-dir", str(shared_dir)]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
        try:
            self.info: dict[str, Any] = json.loads(self._first_line(start_timeout))
        except BaseException:
            self.stop()
            raise
        self.control: str = self.info["control"]
        self.port: int = self.info["port"]

    def _first_line(self, timeout: float) -> bytes:
        assert self._process.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            readable, _, _ = select.select([self._process.stdout], [], [], max(deadline - time.monotonic(), 0))
            if not readable:
                raise TimeoutError(f"the fleet did not start within {timeout} s")
            chunk = os.read(self._process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"the fleet exited with {self._process.wait()} before listening")
            line += chunk
        return line

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, method: str, path: str, **query: object) -> Any:
        url = f"{self.control}{path}" + (f"?{urlencode(query)}" if query else "")
        with self._opener.open(
            urllib.request.Request(url, method=method, data=b"" if method == "POST" else None), timeout=30
        ) as response:
            return json.load(response)

    def sites(self) -> list[dict[str, Any]]:
        """Every site in order: {"site": i, "url": feed URL, "kind": good|hang|error|loop|bomb}."""
        return cast(list[dict[str, Any]], self._call("GET", "/sites"))

    def feed_urls(self) -> list[str]:
        return [site["url"] for site in self.sites()]

    def stats(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("GET", "/stats"))

    def publish(self, sites: int, items: int = 1) -> list[int]:
        """New items on the first `sites` good sites; the indexes of the sites that changed."""
        return cast(list[int], self._call("POST", "/publish", sites=sites, items=items)["published"])

    def publish_share(self, share: float, items: int = 1) -> list[int]:
        return cast(list[int], self._call("POST", "/publish", share=share, items=items)["published"])

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stop(self) -> None:
        """Close stdin (the fleet stops at EOF), then terminate if it lingers."""
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.terminate()
                self._process.wait(timeout=10)
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()


def write_feeds_yaml(path: Path, urls: list[str], **per_feed_fields: object) -> Path:
    """A feeds.yaml listing `urls` as "Fleet 0000", "Fleet 0001", …, each with `per_feed_fields` (poll_minutes=5, …)."""
    lines = ["feeds:"]
    for number, url in enumerate(urls):
        lines += [f"  - url: {json.dumps(url)}", f"    name: {json.dumps(f'Fleet {number:04d}')}"]
        lines += [f"    {key}: {json.dumps(value)}" for key, value in per_feed_fields.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    asyncio.run(serve(parse_args()))
