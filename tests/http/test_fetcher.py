"""pipelines.http.fetcher against a real HTTP server on 127.0.0.1 (tests/newsfake.py): policy, limits, manners, robots.

Feeds fetched here are parsed by pipelines.sources.feedparse, so odd bodies are tested over the real transport too.

Assertions are on work done (requests the server saw, bytes read, outcomes), never on seconds.
"""

from __future__ import annotations

import ipaddress
import resource
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsfake import (
    BIG_FEED_ITEMS,
    BILLION_LAUGHS,
    CONDITIONAL_ETAG,
    CONDITIONAL_FEED,
    DUPLICATED_GUIDS,
    HUGE_BYTES,
    NewsFake,
    http_date,
    loopback_policy,
)

from pipelines.config import ALLOW_HOSTS_ENV, Settings
from pipelines.http.body import MAX_DECOMPRESS_STEP, READ_CHUNK_BYTES
from pipelines.http.fetcher import Fetcher, FetchPolicy
from pipelines.http.guard import AllowList
from pipelines.http.manners import parse_retry_after
from pipelines.http.outcome import FetchResult
from pipelines.sources.feedparse import ParsedFeed, ParseProblem, parse_feed_bytes

SMALL_CAP = 2 * 1024 * 1024
CORPUS_FILE_TIMEOUT = 5.0
CORPUS_TIME_LIMIT = 600  # pytest-timeout for the whole corpus walk


@pytest.fixture
def policy() -> FetchPolicy:
    """Loopback allowed through the real setting; no politeness delay, a 2 MB cap, short timeouts."""
    return loopback_policy(max_bytes=SMALL_CAP, total_timeout=2.0, read_timeout=1.0, connect_timeout=1.0)


@pytest.fixture
def fetcher(policy: FetchPolicy, news_server: NewsFake) -> Iterator[Fetcher]:
    news_server.reset()
    with Fetcher(policy) as fetcher:
        yield fetcher


def parse_feed(result: FetchResult) -> ParsedFeed:
    """The feed in a fetch result, as polling parses it (the final URL is the base for relative links)."""
    return parse_feed_bytes(result.body, result.headers, result.final_url)


# --- policy and pure helpers -----------------------------------------------------------------


def test_policy_from_settings_reads_allow_hosts_and_keeps_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1")
    policy = FetchPolicy.from_settings(Settings.from_env())
    assert policy.allow_hosts.networks == (ipaddress.ip_network("127.0.0.1/32"),)
    assert policy.respect_robots and policy.user_agent.startswith("newsflow/")
    assert "(+https://github.com/newsflow/newsflow)" in policy.user_agent
    assert FetchPolicy.from_settings(Settings()).allow_hosts == AllowList()
    assert FetchPolicy.from_settings(Settings(allow_hosts="localhost")).allow_hosts.hosts == frozenset({"localhost"})
    assert FetchPolicy.from_settings(Settings(), per_host_delay=0.0).per_host_delay == 0.0
    with pytest.raises(ValueError):
        FetchPolicy.from_settings(Settings(allow_hosts="10.0.0.0/33"))


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Mon, 02 Nov 2026 10:05:00 GMT", now) == 300.0
    assert parse_retry_after("Mon, 02 Nov 2026 09:00:00 GMT", now) == 0.0  # a past date means now
    assert parse_retry_after("9999999999") == 7 * 24 * 3600  # capped at a week
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- real fetches: success, conditional GET, manners ---------------------------------------


def test_fetch_real_feed_and_parse_it(fetcher: Fetcher, news_server: NewsFake) -> None:
    result = fetcher.fetch(news_server.url(f"/feeds/{CONDITIONAL_FEED}"))
    assert result.outcome == "ok" and result.status == 200
    assert result.etag is None and result.bytes_read == len(result.body or b"") > 0
    feed = parse_feed(result)
    assert feed.problem is None and feed.version and len(feed.entries) > 10
    entry = feed.entries[0]
    assert entry.title and entry.guid and entry.published is not None and entry.published.tzinfo is UTC
    assert all(e.link is None or e.link.startswith(news_server.base_url) for e in feed.entries)  # links rewritten


def test_request_identifies_the_project(fetcher: Fetcher, news_server: NewsFake) -> None:
    fetcher.fetch(news_server.url("/conditional/feed.xml"))
    sent = news_server.request_headers["/conditional/feed.xml"][0]
    assert sent["user-agent"].startswith("newsflow/") and "github.com/newsflow/newsflow" in sent["user-agent"]
    assert sent["accept-encoding"] == "gzip, deflate"
    assert news_server.request_headers["/robots.txt"][0]["user-agent"] == sent["user-agent"]


def test_second_poll_is_conditional_and_costs_no_body(fetcher: Fetcher, news_server: NewsFake) -> None:
    first = fetcher.fetch(news_server.url("/conditional/feed.xml"))
    assert first.outcome == "ok" and first.etag == CONDITIONAL_ETAG and first.last_modified
    second = fetcher.fetch(news_server.url("/conditional/feed.xml"), etag=first.etag, last_modified=first.last_modified)
    assert second.outcome == "not_modified" and second.status == 304
    assert second.body is None and second.bytes_read == 0
    sent = news_server.request_headers["/conditional/feed.xml"]
    assert len(sent) == 2 and "if-none-match" not in sent[0]
    assert sent[1]["if-none-match"] == CONDITIONAL_ETAG and sent[1]["if-modified-since"] == first.last_modified


def test_unchanged_body_has_the_same_hash(fetcher: Fetcher, news_server: NewsFake) -> None:
    first, second = (fetcher.fetch(news_server.url("/conditional/feed.xml")) for _ in range(2))
    assert first.content_sha256 == second.content_sha256 is not None


def test_robots_txt_is_fetched_once_and_obeyed(fetcher: Fetcher, news_server: NewsFake) -> None:
    refused = fetcher.fetch(news_server.url("/private/feed.xml"))
    assert refused.outcome == "robots_disallowed" and "robots.txt" in refused.note
    assert news_server.requests_to("/private/feed.xml") == 0
    fetcher.fetch(news_server.url("/conditional/feed.xml"))
    assert news_server.requests_to("/robots.txt") == 1


def test_robots_can_be_switched_off(policy: FetchPolicy, news_server: NewsFake) -> None:
    news_server.reset()
    with Fetcher(loopback_policy(respect_robots=False)) as fetcher:
        assert fetcher.fetch(news_server.url("/private/feed.xml")).outcome == "ok"
    assert news_server.requests_to("/robots.txt") == 0


def test_fetch_many_keeps_order_and_fetches_each_page_once(fetcher: Fetcher, news_server: NewsFake) -> None:
    feed = parse_feed(fetcher.fetch(news_server.url(f"/feeds/{CONDITIONAL_FEED}")))
    links = [entry.link for entry in feed.entries if entry.link][:12]
    results = fetcher.fetch_many(links)
    assert [r.url for r in results] == links
    assert all(r.outcome == "ok" and b"<html" in (r.body or b"").lower() for r in results)
    page_hits = sum(count for path, count in news_server.hits.items() if path.startswith("/site/"))
    assert page_hits == len(set(links))
    assert news_server.requests_to("/robots.txt") == 1


def test_fetch_many_respects_the_per_host_limit(news_server: NewsFake) -> None:
    policy = loopback_policy(per_host_concurrency=2, max_workers=8)
    urls = [news_server.url(f"/hold/story-{n}.html") for n in range(8)]
    news_server.reset()
    with Fetcher(policy) as fetcher:
        results = fetcher.fetch_many(urls)
    assert [r.outcome for r in results] == ["ok"] * len(urls)
    assert 1 <= news_server.max_in_flight <= policy.per_host_concurrency


@pytest.mark.parametrize(
    ("url", "outcome"),
    [
        ("http://", "network_error"),
        ("http://[::1/feed", "network_error"),
        ("http://127.0.0.1:99999/", "network_error"),
        ("feed.xml", "blocked_scheme"),
    ],
)
def test_malformed_urls_are_outcomes(fetcher: Fetcher, url: str, outcome: str) -> None:
    assert fetcher.fetch(url).outcome == outcome


# --- HTTP errors and Retry-After --------------------------------------------------------------


@pytest.mark.parametrize("code", [404, 410, 500])
def test_http_errors_are_outcomes(fetcher: Fetcher, news_server: NewsFake, code: int) -> None:
    result = fetcher.fetch(news_server.url(f"/status/{code}"))
    assert (result.outcome, result.status, result.body) == ("http_error", code, None)
    assert str(code) in result.note


def test_retry_after_seconds_defers_the_host(fetcher: Fetcher, news_server: NewsFake) -> None:
    result = fetcher.fetch(news_server.url("/retry/429?after=120"))
    assert (result.outcome, result.status, result.retry_after_seconds) == ("retry_later", 429, 120.0)
    again = fetcher.fetch(news_server.url("/conditional/feed.xml"))  # same host, inside the wait
    assert again.outcome == "retry_later" and again.status is None and 0 < (again.retry_after_seconds or 0) <= 120
    assert news_server.requests_to("/conditional/feed.xml") == 0 and news_server.requests_to("/retry/429") == 1


def test_retry_after_http_date_on_503(fetcher: Fetcher, news_server: NewsFake) -> None:
    result = fetcher.fetch(f"{news_server.url('/retry/503')}?after={http_date(600).replace(' ', '%20')}")
    assert result.outcome == "retry_later" and result.status == 503
    assert 500 < (result.retry_after_seconds or 0) <= 600


# --- limits -----------------------------------------------------------------------------------


def test_slow_drip_hits_the_total_timeout(news_server: NewsFake) -> None:
    policy = loopback_policy(total_timeout=0.5, read_timeout=5.0, respect_robots=False)
    news_server.reset()
    with Fetcher(policy) as fetcher:
        drip = fetcher.fetch(news_server.url("/slow-drip"))
        headers = fetcher.fetch(news_server.url("/slow-headers"))
    assert drip.outcome == "timeout" and drip.body is None
    assert headers.outcome == "timeout" and headers.status is None


def test_huge_body_is_cut_at_the_cap(fetcher: Fetcher, news_server: NewsFake) -> None:
    streamed = fetcher.fetch(news_server.url("/huge"))
    declared = fetcher.fetch(news_server.url("/huge?declare=1"))
    assert streamed.outcome == declared.outcome == "too_large"
    assert streamed.body is None and str(SMALL_CAP) in streamed.note
    assert SMALL_CAP < streamed.bytes_read <= SMALL_CAP + READ_CHUNK_BYTES  # stopped one chunk past the cap
    assert str(HUGE_BYTES) in declared.note and declared.bytes_read == 0  # refused from Content-Length, unread


def test_gzip_bomb_is_cut_at_the_decoded_cap(fetcher: Fetcher, news_server: NewsFake) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = fetcher.fetch(news_server.url("/gzip-bomb"))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.outcome == "too_large" and "decoded" in result.note
    assert SMALL_CAP < result.bytes_read <= SMALL_CAP + MAX_DECOMPRESS_STEP  # inflated one step past the cap
    assert grown_kib < 64 * 1024  # a 200 MB bomb never inflated in memory


def test_corrupt_gzip_is_a_decode_error(fetcher: Fetcher, news_server: NewsFake) -> None:
    assert fetcher.fetch(news_server.url("/bad-gzip")).outcome == "decode_error"


def test_gzip_feed_with_5000_items(fetcher: Fetcher, news_server: NewsFake) -> None:
    result = fetcher.fetch(news_server.url("/big-feed.xml"))
    assert result.outcome == "ok" and result.headers["content-encoding"] == "gzip"
    feed = parse_feed(result)
    assert feed.problem is None and len(feed.entries) == BIG_FEED_ITEMS and feed.duplicates == 0


def test_redirect_loop_is_stopped(fetcher: Fetcher, news_server: NewsFake) -> None:
    result = fetcher.fetch(news_server.url("/redirect-loop/a"))
    assert result.outcome == "redirect_loop"
    assert news_server.requests_to("/redirect-loop/a") == 1 and news_server.requests_to("/redirect-loop/b") == 1


def test_redirect_chain_is_capped(fetcher: Fetcher, news_server: NewsFake, policy: FetchPolicy) -> None:
    short = fetcher.fetch(news_server.url(f"/redirect-chain/{policy.max_redirects}"))
    assert short.outcome == "ok" and short.final_url.endswith(CONDITIONAL_FEED)
    news_server.reset()
    endless = fetcher.fetch(news_server.url(f"/redirect-chain/{policy.max_redirects + 1}"))
    assert endless.outcome == "redirect_loop" and f"more than {policy.max_redirects}" in endless.note
    chain_hits = sum(n for path, n in news_server.hits.items() if path.startswith("/redirect-chain/"))
    assert chain_hits == policy.max_redirects + 1


# --- scheme guards (the address guard: test_guard.py) ---------------------------------------------


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "gopher://127.0.0.1/"])
def test_non_http_schemes_are_refused(fetcher: Fetcher, url: str) -> None:
    assert fetcher.fetch(url).outcome == "blocked_scheme"


def test_redirect_to_file_scheme_is_refused(fetcher: Fetcher, news_server: NewsFake) -> None:
    result = fetcher.fetch(news_server.url("/redirect-to?url=file:///etc/passwd"))
    assert result.outcome == "blocked_scheme" and result.final_url == "file:///etc/passwd"


def test_unresolvable_host_is_a_network_error(fetcher: Fetcher) -> None:
    assert fetcher.fetch("http://no-such-host.invalid/feed.xml").outcome == "network_error"


# --- parsing odd bodies -------------------------------------------------------------------------


def test_wrong_charset_still_yields_items(fetcher: Fetcher, news_server: NewsFake) -> None:
    """A UTF-8 feed labelled ISO-8859-1: feedparser settles on the document's own UTF-8, so no mojibake."""
    feed = parse_feed(fetcher.fetch(news_server.url("/wrong-charset.xml")))
    assert feed.problem is None and len(feed.entries) == 30
    titles = " ".join(entry.title or "" for entry in feed.entries)
    assert "zvýšili" in titles and "Ã" not in titles


def test_html_served_as_feed_is_named(fetcher: Fetcher, news_server: NewsFake) -> None:
    feed = parse_feed(fetcher.fetch(news_server.url("/html-as-feed.xml")))
    assert feed.problem == "not_a_feed" and "HTML page" in feed.note and not feed.entries


def test_duplicate_guids_are_dropped(fetcher: Fetcher, news_server: NewsFake) -> None:
    feed = parse_feed(fetcher.fetch(news_server.url("/dup-guids.xml")))
    assert feed.duplicates == DUPLICATED_GUIDS and len(feed.entries) == DUPLICATED_GUIDS + 1
    assert len({entry.guid for entry in feed.entries}) == len(feed.entries)


def test_a_body_naming_a_local_file_is_not_opened(fetcher: Fetcher, news_server: NewsFake, tmp_path: Path) -> None:
    """feedparser.parse(bytes) opens a path-like string as a file; a server answering '/dev/zero' must not hang us."""
    local = tmp_path / "local-feed.xml"
    local.write_bytes(b'<rss version="2.0"><channel><item><title>LOCAL FILE</title></item></channel></rss>')
    feed = parse_feed(fetcher.fetch(news_server.put("path.xml", str(local).encode(), "application/rss+xml")))
    assert not feed.entries and feed.problem == "not_a_feed"
    assert parse_feed_bytes(b"/dev/zero", {}, "http://127.0.0.1/feed").problem == "not_a_feed"


# --- hostile XML (on bytes alone: tests/sources/test_feedparse.py) ----------------------------------------


def test_hostile_feed_over_http_is_recorded(fetcher: Fetcher, news_server: NewsFake) -> None:
    feed = parse_feed(fetcher.fetch(news_server.put("billion.xml", BILLION_LAUGHS)))
    assert feed.problem == ParseProblem.HOSTILE_XML


# --- corpora ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_real_feed_fetches_and_parses(fetcher: Fetcher, news_server: NewsFake, shared_dir: Path) -> None:
    """Saved RSS/Atom/RDF feeds yield items; the HTML pages and JSON Feeds beside them are named as not feeds."""
    root = shared_dir / "corpora/feeds-real"
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in {".xml", ".rss", ".atom", ".rdf", ".json", ".html"}
    )
    for path in files:
        result = fetcher.fetch(news_server.url(f"/feeds/{path.relative_to(root).as_posix()}"))
        assert result.outcome == "ok", (path, result.note)
        feed = parse_feed(result)
        if path.suffix in {".html", ".json"}:
            assert feed.problem == "not_a_feed" and ("HTML" in feed.note or "JSON" in feed.note), path
        elif "FirstEntry" not in path.name:  # feedjira's single-entry fragments are not documents
            assert feed.entries and feed.problem is None, (path, feed.note)
    assert news_server.requests_to("/robots.txt") == 1


@pytest.mark.timeout(CORPUS_TIME_LIMIT)
@pytest.mark.slow
def test_feedparser_corpus_never_crashes_or_hangs(news_server: NewsFake, shared_dir: Path) -> None:
    """Every file of feedparser's own test suite, served over HTTP: each yields items or a recorded reason."""
    policy = loopback_policy(total_timeout=CORPUS_FILE_TIMEOUT)
    root = shared_dir / "corpora/feedparser-tests/tests"
    files = sorted(p for p in root.rglob("*") if p.is_file())
    news_server.reset()
    tally: Counter[str] = Counter()
    with Fetcher(policy) as fetcher:
        for path in files:
            result = fetcher.fetch(news_server.url(f"/fp/{path.relative_to(root).as_posix()}"))
            assert result.outcome == "ok", (path, result.outcome, result.note)
            feed = parse_feed(result)
            assert feed.entries or (feed.problem and feed.note), path
            tally["items" if feed.entries else str(feed.problem)] += 1
    assert sum(tally.values()) == len(files) > 2000
    assert news_server.total_requests() == len(files) + 1  # each file once, robots.txt once
    print(f"feedparser-tests: {len(files)} files -> {dict(tally)}")
