"""A real HTTP server on 127.0.0.1 serving real feeds and article pages, misbehaving on demand.

Not a mock: `Fetcher` talks to it over TCP exactly as to a news site. Routes (GET only):

| path | serves |
|---|---|
| /robots.txt | `User-agent: *` / `Disallow: /private/` |
| /feeds/<path under corpora/feeds-real> | the saved feed, every absolute URL pointing back here |
| /site/<host>/<path> | a real article page from corpora/news-html (picked by path hash), links pointing back here |
| /fp/<path under corpora/feedparser-tests/tests> | that test file as-is, with the headers its `Header:` lines name |
| /private/<anything> | a feed robots.txt forbids |
| /conditional/feed.xml | a real feed with ETag and Last-Modified; 304 when the request's validators match |
| /conditional/feed.json | the same with a real JSON Feed |
| /status/<code> | that status (404, 410, 500, ...) with a small body |
| /retry/<code>?after=<value> | 429/503 with `Retry-After: <value>` (seconds or an HTTP date) |
| /slow-drip | 200, then one byte every DRIP_INTERVAL seconds (gives up after DRIP_MAX_BYTES or a closed socket) |
| /slow-headers | the status line and headers one byte at a time |
| /huge?declare=1 | a 20 MB body; `declare=1` announces it in Content-Length, otherwise chunked |
| /gzip-bomb | a small gzip body that inflates to GZIP_BOMB_BYTES of zeros |
| /bad-gzip | `Content-Encoding: gzip` on bytes that are not gzip |
| /redirect-loop/a, /redirect-loop/b | redirect to each other forever |
| /redirect-chain/<n> | n redirects (n >= 1), then a real feed |
| /redirect-to?url=<url> | one 302 to any URL (another address, another scheme) |
| /wrong-charset.xml | a real UTF-8 Slovak news feed declared `charset=iso-8859-1` in Content-Type |
| /html-as-feed.xml | a real article page served as `application/rss+xml` |
| /big-feed.xml | an RSS feed with BIG_FEED_ITEMS items linking to /site/... pages |
| /dup-guids.xml | a feed whose items repeat GUIDs |
| /bytes/<name> | bytes registered with `NewsFake.put(name, body, content_type)` (hostile XML, etc.) |
| /etag/<name> | the same bytes with an ETag (their hash); 304 when If-None-Match matches |
| /hold/<anything> | a real article page after HOLD_SECONDS; `max_in_flight` records the most held at once |
| any path given to `serve` | that response (status, body, headers), ahead of every route above |

`serve` is for a site's own robots.txt, pages at /feed and the like.

`RunningServer(shared_dir, tls=True)` serves the same routes over HTTPS with a fresh self-signed certificate.

Every request is counted per path (query excluded) with its headers, so tests assert on work done.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import ipaddress
import re
import ssl
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from pipelines.config import Settings
from pipelines.http.fetcher import FetchPolicy

HOST = "127.0.0.1"
FEEDS_DIR = "corpora/feeds-real"
PAGES_DIR = "corpora/news-html"
FEEDPARSER_TESTS_DIR = "corpora/feedparser-tests/tests"
CONDITIONAL_FEED = "rsparser/Tests/RSParserTests/Resources/DaringFireball.rss"
CONDITIONAL_JSON_FEED = "rsparser/Tests/RSParserTests/Resources/inessential.json"
WRONG_CHARSET_FEED = "rsparser/Tests/RSParserTests/Resources/aktuality.rss"  # Slovak news, UTF-8
WRONG_CHARSET = "iso-8859-1"
CONDITIONAL_ETAG = '"newsflow-fake-v1"'
CONDITIONAL_LAST_MODIFIED = "Mon, 02 Nov 2026 10:00:00 GMT"
ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\n"
HUGE_BYTES = 20 * 1024 * 1024
GZIP_BOMB_BYTES = 200 * 1024 * 1024
BIG_FEED_ITEMS = 5000
DUPLICATED_GUIDS = 3  # /dup-guids.xml: each of these GUIDs appears twice
# Nested entities (an entity-expansion bomb), for `put` and for parsers read without a server.
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    )
    + b']>\n<rss version="2.0"><channel><title>x</title><item><title>&lol9;</title></item></channel></rss>'
)
DRIP_INTERVAL = 0.05
DRIP_MAX_BYTES = 400  # bounds a drip at ~20 s even when nobody hangs up
CHUNK = 64 * 1024
HOLD_SECONDS = 0.1

CONTENT_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}
# group 1: where a URL names a vocabulary, not a place (an XML namespace, a JSON Feed's version)
_ABSOLUTE_URL = re.compile(
    rb"""(xmlns(?::[\w.-]+)?\s*=\s*["']|"version"\s*:\s*")?\bhttps?://([A-Za-z0-9.-]+)(?::\d+)?"""
)
_HEADER_LINE = re.compile(rb"^Header:\s*([\w-]+):\s?(.*?)\s*$", re.MULTILINE)
_ITEM_TEMPLATE = (
    "<item><title>Item {n}</title><link>{base}/site/news.example/2026/story-{n}.html</link>"
    '<guid isPermaLink="false">item-{guid}</guid><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate>'
    "<description>Summary of story {n}.</description></item>"
)


def rewrite_links(body: bytes, base: str) -> bytes:
    """Point every absolute URL at this server (/site/<host>/...), leaving vocabulary names alone."""

    def swap(match: re.Match[bytes]) -> bytes:
        if match.group(1):
            return match.group(0)
        return f"{base}/site/".encode() + match.group(2)

    return _ABSOLUTE_URL.sub(swap, body)


def declared_headers(body: bytes) -> dict[str, str]:
    """The `Header: Name: value` lines in a feedparser test file's leading comment."""
    head = body[: body.find(b"-->")] if b"-->" in body else b""
    return {name.decode(): value.decode("utf-8", "replace") for name, value in _HEADER_LINE.findall(head)}


def rss(items: list[str]) -> bytes:
    """A minimal RSS 2.0 document around pre-rendered <item> elements."""
    channel = "<title>newsfake</title><link>http://news.example/</link><description>fake</description>"
    document = f'<rss version="2.0"><channel>{channel}{"".join(items)}</channel></rss>'
    return f'<?xml version="1.0" encoding="utf-8"?>\n{document}'.encode()


@functools.cache
def _gzip_bomb(size: int) -> bytes:
    """`size` zero bytes gzipped a megabyte at a time (about 1/1000 of the size on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    return b"".join(compressor.compress(zeros) for _ in range(size // len(zeros))) + compressor.flush()


class NewsFake:
    """The route table and the request log of one server."""

    def __init__(self, shared_dir: Path) -> None:
        self.shared_dir = shared_dir
        self.base_url = ""  # set once the socket is bound
        self.hits: Counter[str] = Counter()
        self.request_headers: dict[str, list[dict[str, str]]] = {}
        self._blobs: dict[str, tuple[bytes, str]] = {}
        self._served: dict[str, tuple[int, bytes, str, dict[str, str]]] = {}
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self._pages = sorted((shared_dir / PAGES_DIR).rglob("*.html"))
        self.bomb = _gzip_bomb(GZIP_BOMB_BYTES)  # built up front: building it inside a request would time out
        self.routes: list[tuple[re.Pattern[str], Callable[[Handler, re.Match[str], dict[str, list[str]]], None]]] = [
            (re.compile(r"^/robots\.txt$"), Handler.robots),
            (re.compile(r"^/feeds/(?P<path>.+)$"), Handler.feed),
            (re.compile(r"^/site/(?P<path>.+)$"), Handler.page),
            (re.compile(r"^/fp/(?P<path>.+)$"), Handler.feedparser_test),
            (re.compile(r"^/private/"), Handler.conditional),
            (re.compile(r"^/conditional/feed\.(?P<ext>xml|json)$"), Handler.conditional),
            (re.compile(r"^/status/(?P<code>\d{3})$"), Handler.status),
            (re.compile(r"^/retry/(?P<code>\d{3})$"), Handler.retry),
            (re.compile(r"^/slow-drip$"), Handler.slow_drip),
            (re.compile(r"^/slow-headers$"), Handler.slow_headers),
            (re.compile(r"^/huge$"), Handler.huge),
            (re.compile(r"^/gzip-bomb$"), Handler.gzip_bomb),
            (re.compile(r"^/bad-gzip$"), Handler.bad_gzip),
            (re.compile(r"^/redirect-loop/(?P<leg>[ab])$"), Handler.redirect_loop),
            (re.compile(r"^/redirect-chain/(?P<n>\d+)$"), Handler.redirect_chain),
            (re.compile(r"^/redirect-to$"), Handler.redirect_to),
            (re.compile(r"^/wrong-charset\.xml$"), Handler.wrong_charset),
            (re.compile(r"^/html-as-feed\.xml$"), Handler.html_as_feed),
            (re.compile(r"^/big-feed\.xml$"), Handler.big_feed),
            (re.compile(r"^/dup-guids\.xml$"), Handler.dup_guids),
            (re.compile(r"^/bytes/(?P<name>.+)$"), Handler.blob),
            (re.compile(r"^/etag/(?P<name>.+)$"), Handler.etag_blob),
            (re.compile(r"^/hold/(?P<path>.+)$"), Handler.hold),
        ]

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def put(self, name: str, body: bytes, content_type: str = "application/xml") -> str:
        """Serve `body` at /bytes/<name>; returns its URL."""
        with self._lock:
            self._blobs[name] = (body, content_type)
        return self.url(f"/bytes/{name}")

    def story_url(self, n: int) -> str:
        """The article page item n of `stories_feed` links to (a real page, see `page_for`)."""
        return self.url(f"/site/news.example/2026/story-{n}.html")

    def distinct_stories(self, count: int, taken: Sequence[int] = ()) -> list[int]:
        """`count` story numbers, past `taken`, whose pages differ from each other's and from those of `taken`:
        two stories on one page would be one article, deduplicated."""
        pages = {self.page_for(urlsplit(self.story_url(n)).path.removeprefix("/site/")) for n in taken}
        chosen: list[int] = []
        n = max(taken, default=-1) + 1
        while len(chosen) < count and len(pages) < len(self._pages):
            page = self.page_for(urlsplit(self.story_url(n)).path.removeprefix("/site/"))
            if page not in pages:
                pages.add(page)
                chosen.append(n)
            n += 1
        return chosen

    def stories_feed(self, name: str, stories: Iterable[int]) -> str:
        """Serve at /bytes/<name> an RSS feed of items story-<n>, each linking to `story_url(n)`; serving it again
        with more stories is a feed that gained items. Returns the feed's URL."""
        items = [_ITEM_TEMPLATE.format(n=n, guid=n, base=self.base_url) for n in stories]
        return self.put(name, rss(items), CONTENT_TYPES[".rss"])

    def blob(self, name: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._blobs.get(name)

    def serve(
        self,
        path: str,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Answer GET `path` (query ignored) with this response instead of its route; returns its URL.
        For servers a test starts itself: the session's shared server keeps its routes."""
        with self._lock:
            self._served[path] = (status, body, content_type, dict(headers or {}))
        return self.url(path)

    def served(self, path: str) -> tuple[int, bytes, str, dict[str, str]] | None:
        with self._lock:
            return self._served.get(path)

    def record(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.hits[path] += 1
            self.request_headers.setdefault(path, []).append(headers)

    def requests_to(self, path: str) -> int:
        with self._lock:
            return self.hits[path]

    def total_requests(self) -> int:
        with self._lock:
            return sum(self.hits.values())

    def reset(self) -> None:
        with self._lock:
            self.hits.clear()
            self.request_headers.clear()
            self.max_in_flight = 0

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Count this request as in flight while the block runs."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def page_for(self, path: str) -> Path:
        """A real article page for any /site/ path, the same one every time."""
        digest = int(hashlib.sha256(path.encode()).hexdigest(), 16)
        return self._pages[digest % len(self._pages)]

    def corpus_file(self, folder: str, relative: str) -> Path | None:
        """`relative` inside a shared corpus folder, refusing paths that climb out of it."""
        root = (self.shared_dir / folder).resolve()
        path = (root / relative).resolve()
        return path if path.is_file() and path.is_relative_to(root) else None


class Handler(BaseHTTPRequestHandler):
    """Dispatches GETs through `NewsFake.routes`; each route method writes one response."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle + delayed ACK adds 40 ms to each
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return

    @property
    def fake(self) -> NewsFake:
        return self.server.fake

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.fake.record(parts.path, {key.lower(): value for key, value in self.headers.items()})
        query = parse_qs(parts.query)
        if served := self.fake.served(parts.path):
            status, body, content_type, headers = served
            self.send_body(status, body, content_type, headers)
            return
        for pattern, route in self.fake.routes:
            if match := pattern.match(parts.path):
                route(self, match, query)
                return
        self.send_body(404, b"no such route", "text/plain")

    # --- plumbing --------------------------------------------------------------------------

    def send_body(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_redirect(self, location: str) -> None:
        self.send_body(302, b"", "text/plain", {"Location": location})

    def send_unbounded(self, status: int, content_type: str, chunks: Iterator[bytes], headers: dict[str, str]) -> None:
        """A body without Content-Length, ended by closing the connection; stops when the client hangs up."""
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def corpus(self, folder: str, relative: str) -> bytes | None:
        path = self.fake.corpus_file(folder, relative)
        return path.read_bytes() if path else None

    # --- real content ----------------------------------------------------------------------

    def robots(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        self.send_body(200, ROBOTS_TXT, "text/plain")

    def feed(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        body = self.corpus(FEEDS_DIR, match["path"])
        if body is None:
            self.send_body(404, b"no such feed", "text/plain")
            return
        content_type = CONTENT_TYPES.get(Path(match["path"]).suffix, "application/xml")
        self.send_body(200, rewrite_links(body, self.fake.base_url), content_type)

    def page(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        body = self.fake.page_for(match["path"]).read_bytes()
        self.send_body(200, rewrite_links(body, self.fake.base_url), CONTENT_TYPES[".html"])

    def feedparser_test(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        body = self.corpus(FEEDPARSER_TESTS_DIR, match["path"])
        if body is None:
            self.send_body(404, b"no such test file", "text/plain")
            return
        headers = declared_headers(body)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/xml")
        extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        self.send_body(200, body, content_type, extra)

    def conditional(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        validators = {"ETag": CONDITIONAL_ETAG, "Last-Modified": CONDITIONAL_LAST_MODIFIED}
        etag, since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if etag == CONDITIONAL_ETAG or since == CONDITIONAL_LAST_MODIFIED:
            self.send_body(304, b"", "application/rss+xml", validators)
            return
        json_feed = match.groupdict().get("ext") == "json"
        body = rewrite_links(
            self.corpus(FEEDS_DIR, CONDITIONAL_JSON_FEED if json_feed else CONDITIONAL_FEED) or b"", self.fake.base_url
        )
        self.send_body(200, body, "application/feed+json" if json_feed else CONTENT_TYPES[".rss"], validators)

    # --- misbehaviour ----------------------------------------------------------------------

    def status(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        self.send_body(int(match["code"]), f"status {match['code']}".encode(), "text/plain")

    def retry(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        after = query.get("after", ["120"])[0]
        self.send_body(int(match["code"]), b"slow down", "text/plain", {"Retry-After": after})

    def slow_drip(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        def drip() -> Iterator[bytes]:
            for _ in range(DRIP_MAX_BYTES):
                time.sleep(DRIP_INTERVAL)
                yield b"<"

        self.send_unbounded(200, "application/rss+xml", drip(), {})

    def slow_headers(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        self.close_connection = True
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"x" * DRIP_MAX_BYTES + b"\r\n\r\n"
        try:
            for byte in head:
                time.sleep(DRIP_INTERVAL)
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def huge(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        chunk = b"x" * CHUNK
        chunks = (chunk for _ in range(HUGE_BYTES // CHUNK))
        headers = {"Content-Length": str(HUGE_BYTES)} if query.get("declare") == ["1"] else {}
        self.send_unbounded(200, "application/rss+xml", chunks, headers)

    def gzip_bomb(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        self.send_body(200, self.fake.bomb, "application/rss+xml", {"Content-Encoding": "gzip"})

    def bad_gzip(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        self.send_body(200, b"this is not gzip at all" * 10, "application/rss+xml", {"Content-Encoding": "gzip"})

    def redirect_loop(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        self.send_redirect("/redirect-loop/" + ("b" if match["leg"] == "a" else "a"))

    def redirect_chain(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        left = int(match["n"])
        self.send_redirect(f"/redirect-chain/{left - 1}" if left > 1 else f"/feeds/{CONDITIONAL_FEED}")

    def redirect_to(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        self.send_redirect(query["url"][0])

    def wrong_charset(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        body = rewrite_links(self.corpus(FEEDS_DIR, WRONG_CHARSET_FEED) or b"", self.fake.base_url)
        self.send_body(200, body, f"application/rss+xml; charset={WRONG_CHARSET}")

    def html_as_feed(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        body = self.fake.page_for("html-as-feed").read_bytes()
        self.send_body(200, rewrite_links(body, self.fake.base_url), "application/rss+xml")

    def big_feed(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        items = [_ITEM_TEMPLATE.format(n=n, guid=n, base=self.fake.base_url) for n in range(BIG_FEED_ITEMS)]
        self.send_body(200, gzip.compress(rss(items)), "application/rss+xml", {"Content-Encoding": "gzip"})

    def dup_guids(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        guids = [*range(DUPLICATED_GUIDS), *range(DUPLICATED_GUIDS), DUPLICATED_GUIDS]
        items = [_ITEM_TEMPLATE.format(n=n, guid=guid, base=self.fake.base_url) for n, guid in enumerate(guids)]
        self.send_body(200, rss(items), "application/rss+xml")

    def hold(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        with self.fake.holding():
            time.sleep(HOLD_SECONDS)
        self.page(match, query)

    def blob(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        found = self.fake.blob(match["name"])
        if found is None:
            self.send_body(404, b"no such blob", "text/plain")
            return
        self.send_body(200, found[0], found[1])

    def etag_blob(self, match: re.Match[str], query: dict[str, list[str]]) -> None:
        found = self.fake.blob(match["name"])
        if found is None:
            self.send_body(404, b"no such blob", "text/plain")
            return
        etag = f'"{hashlib.sha256(found[0]).hexdigest()[:16]}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_body(304, b"", found[1], {"ETag": etag})
            return
        self.send_body(200, found[0], found[1], {"ETag": etag})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: NewsFake

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up on a drip or a bomb is the point of those routes, not an error to print."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]  # socketserver types them narrower


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1 (no CA trusts it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


class RunningServer:
    """A NewsFake bound to 127.0.0.1 on a free port, serving from a background thread until `stop`."""

    def __init__(self, shared_dir: Path, tls: ssl.SSLContext | None = None) -> None:
        self.fake = NewsFake(shared_dir)
        self._server = _Server((HOST, 0), Handler)
        self._server.fake = self.fake
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.fake.base_url = f"{'https' if tls else 'http'}://{HOST}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def loopback_policy(**overrides: object) -> FetchPolicy:
    """A policy that may reach this server, allow-listed through the real setting, without the politeness delay."""
    return FetchPolicy.from_settings(Settings(allow_hosts=HOST), **{"per_host_delay": 0.0, **overrides})


def http_date(seconds_from_now: float) -> str:
    """An RFC 9110 HTTP date `seconds_from_now` in the future, for Retry-After."""
    return formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.fixture(scope="session")
def news_server(shared_dir: Path) -> Iterator[NewsFake]:
    """One local news site for the session; tests call `reset()` before counting requests."""
    running = RunningServer(shared_dir)
    try:
        yield running.fake
    finally:
        running.stop()


@pytest.fixture()
def own_server(shared_dir: Path) -> Iterator[NewsFake]:
    """A server for one test, its own site (origin).

    `serve` may change its robots.txt or pages without touching others.
    """
    running = RunningServer(shared_dir)
    try:
        yield running.fake
    finally:
        running.stop()


@pytest.fixture(scope="session")
def news_server_tls(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewsFake]:
    """The same site over HTTPS with a self-signed certificate."""
    running = RunningServer(shared_dir, tls=self_signed_context(tmp_path_factory.mktemp("tls")))
    try:
        yield running.fake
    finally:
        running.stop()
