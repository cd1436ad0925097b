"""`newsflow feeds add`: finding a site's feeds from a URL, against real saved home pages and feeds served locally.

Each test runs its own server (`own_server`), a site whose pages, feeds and robots.txt it sets. What was
requested is asserted from the server's log: discovery goes through the fetcher like any poll.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from newsfake import FEEDS_DIR, NewsFake, loopback_policy, rewrite_links
from rich.cells import cell_len

from pipelines.config import PROJECT_ROOT
from pipelines.http.fetcher import Fetcher, FetchPolicy
from pipelines.sources.discovery import (
    COMMON_FEED_PATHS,
    Candidate,
    Found,
    choose,
    discover,
    entry_name,
)
from pipelines.sources.feed_config import FeedConfigError, append_feed, load_feeds

RESOURCES = "rsparser/Tests/RSParserTests/Resources"
ROBOTS = (
    "User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap-news.xml\nSitemap: {base}/sitemap-gone.xml\n"
    "Sitemap: {base}/sitemap-pages.xml\nSitemap: {base}/sitemap_index.xml\n"
)
# A Google News sitemap as publishers write it: the news: extension names the outlet, language, date and title.
NEWS_SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{urls}</urlset>
"""
NEWS_URL = (
    "<url><loc>{base}/2016/02/{slug}</loc><news:news><news:publication><news:name>Daring Fireball</news:name>"
    "<news:language>en</news:language></news:publication><news:publication_date>{date}"
    "</news:publication_date><news:title>{slug}</news:title></news:news></url>\n"
)
# A general sitemap of a site's pages, without dates (as many CMSs write them): a poll would never take a URL.
PAGES_SITEMAP = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
    "<url><loc>{base}/about</loc></url>\n<url><loc>{base}/contact</loc></url>\n</urlset>\n"
)
INDEX = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
    "<sitemap><loc>{base}/sitemap-news.xml</loc><lastmod>{date}</lastmod></sitemap>\n"
    "<sitemap><loc>{base}/sitemap-pages.xml</loc></sitemap>\n</sitemapindex>\n"
)


def recently() -> str:
    """An hour ago, as a sitemap dates it: discovery counts only URLs dated within max_age_days of now."""
    return (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def real(shared_dir: Path, name: str, server: NewsFake) -> bytes:
    """A saved page or feed with its absolute links pointing at the test's server."""
    return rewrite_links((shared_dir / FEEDS_DIR / RESOURCES / name).read_bytes(), server.base_url)


@pytest.fixture()
def site(own_server: NewsFake, shared_dir: Path) -> NewsFake:
    """Daring Fireball's saved home page at /, its Atom feed where the page's <link rel="alternate"> points."""
    own_server.serve("/robots.txt", ROBOTS.format(base=own_server.base_url).encode(), "text/plain")
    own_server.serve("/", real(shared_dir, "DaringFireball.html", own_server))
    own_server.serve("/feeds/main", real(shared_dir, "DaringFireball.atom", own_server), "application/atom+xml")
    base = own_server.base_url
    urls = "".join(NEWS_URL.format(base=base, slug=slug, date=recently()) for slug in ("apple-fbi", "mac-pro"))
    own_server.serve("/sitemap-news.xml", NEWS_SITEMAP.format(urls=urls).encode(), "application/xml")
    own_server.serve("/sitemap-gone.xml", b"gone", "text/plain", status=410)
    own_server.serve("/sitemap-pages.xml", PAGES_SITEMAP.format(base=base).encode(), "application/xml")
    own_server.serve("/sitemap_index.xml", INDEX.format(base=base, date=recently()).encode(), "application/xml")
    return own_server


def test_a_home_page_offers_its_linked_feed_and_its_sitemaps(site: NewsFake) -> None:
    with Fetcher(loopback_policy()) as fetcher:
        found = discover(site.url("/"), fetcher)
    assert [(c.url, c.kind, c.found, c.title) for c in found] == [
        (site.url("/feeds/main"), "feed", Found.LINK, "Daring Fireball"),
        (site.url("/sitemap-news.xml"), "sitemap", Found.ROBOTS, "Daring Fireball"),
        (site.url("/sitemap-gone.xml"), "sitemap", Found.ROBOTS, None),
        (site.url("/sitemap-pages.xml"), "sitemap", Found.ROBOTS, None),
        (site.url("/sitemap_index.xml"), "sitemap", Found.ROBOTS, "Daring Fireball"),
    ]
    feed, news, gone, pages, index = found
    assert feed.items > 10 and news.items == 2 and index.items == 2  # an index counts its sitemaps' recent URLs
    assert feed.problem is news.problem is index.problem is None and gone.problem == "http_error: HTTP 410 Gone"
    assert (
        pages.items == 0
        and pages.problem
        and pages.problem.startswith("no URL dated within 2 days (2 undated, 0 older)")
    )
    assert all(site.requests_to(path) == 1 for path in ("/robots.txt", "/feeds/main", "/sitemap_index.xml"))
    assert site.requests_to("/sitemap-news.xml") == site.requests_to("/sitemap-pages.xml") == 2  # alone, via the index
    assert not any(site.requests_to(path) for path in COMMON_FEED_PATHS)  # a page that links a feed is not probed
    assert choose(found) == found[0] and choose(found, 2) == found[1] and choose(found, 6) is None
    hostname = site.base_url.split("//")[1].split(":")[0]
    assert (entry_name(news, ["Daring Fireball"]), entry_name(pages, [])) == (
        "Daring Fireball sitemap",
        f"{hostname} sitemap",
    )


def test_a_sitemap_url_is_its_own_candidate(site: NewsFake) -> None:
    with Fetcher(loopback_policy()) as fetcher:
        [news] = discover(site.url("/sitemap-news.xml"), fetcher)
        [pages] = discover(site.url("/sitemap-pages.xml"), fetcher)
        stale = discover(site.url("/sitemap-news.xml"), fetcher, now=datetime.now(UTC) + timedelta(days=3))
    assert (news.found, news.kind, news.items, news.problem) == (Found.GIVEN, "sitemap", 2, None) and choose(
        [news]
    ) == news
    assert pages.found == Found.GIVEN and pages.problem and choose([pages]) is None  # undated: a poll would get nothing
    assert stale[0].problem and stale[0].problem.startswith("no URL dated within 2 days (0 undated, 2 older)")
    assert site.requests_to("/robots.txt") == 1 and site.requests_to("/") == 0  # nothing else of the site was asked


def test_a_feed_url_is_its_own_candidate(site: NewsFake, shared_dir: Path) -> None:
    site.serve("/feed.json", real(shared_dir, "DaringFireball.json", site), "application/feed+json")
    with Fetcher(loopback_policy()) as fetcher:
        [json_feed] = discover(site.url("/feed.json"), fetcher)
    assert (json_feed.found, json_feed.kind, json_feed.problem, json_feed.title) == (
        Found.GIVEN,
        "feed",
        None,
        "Daring Fireball",
    )
    assert json_feed.items > 0 and site.total_requests() == 2  # robots.txt and the feed: nothing else


def test_common_paths_are_tried_when_the_page_links_no_usable_feed(own_server: NewsFake, shared_dir: Path) -> None:
    """Six Colors links its feed on another host (here a page, not a feed): the site's own common paths are tried."""
    own_server.serve("/", real(shared_dir, "sixcolors.html", own_server))
    own_server.serve("/feed.json", real(shared_dir, "DaringFireball.json", own_server), "application/feed+json")
    own_server.serve("/rss", b"<html><body>Not a feed</body></html>")
    with Fetcher(loopback_policy()) as fetcher:
        found = discover(own_server.url("/"), fetcher)
    linked, *rest = found
    assert linked.found == Found.LINK and linked.problem and linked.problem.startswith("not_a_feed")
    assert [(c.url, c.found, c.problem) for c in rest] == [(own_server.url("/feed.json"), Found.PATH, None)]
    assert all(own_server.requests_to(path) == 1 for path in COMMON_FEED_PATHS)
    assert choose(found) == rest[0]


def test_robots_and_the_address_guard_hold_for_discovery(site: NewsFake) -> None:
    with Fetcher(loopback_policy()) as fetcher:
        [refused] = discover(site.url("/private/"), fetcher)
    assert refused.problem and refused.problem.startswith("robots_disallowed")
    assert site.requests_to("/private/") == 0
    with Fetcher(FetchPolicy(per_host_delay=0.0)) as unguarded:  # 127.0.0.1 not allow-listed
        [blocked] = discover(site.url("/"), unguarded)
    assert blocked.problem and blocked.problem.startswith("blocked_address") and choose([blocked]) is None


def test_append_keeps_comments_and_validates_before_writing(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    original = (PROJECT_ROOT / "feeds.yaml").read_text(encoding="utf-8")  # comments, then `feeds: []`
    feeds.write_text(original, encoding="utf-8")
    added = append_feed(feeds, {"url": "https://news.example/rss.xml", "name": "News: Example"}, 5)
    text = feeds.read_text(encoding="utf-8")
    assert text.startswith(original[: original.index("feeds: []")])  # every comment line kept
    assert (
        [(f.url, f.name) for f in load_feeds(feeds, 5)]
        == [(added.url, added.name)]
        == [("https://news.example/rss.xml", "News: Example")]
    )
    append_feed(feeds, {"url": "https://news.example/sitemap.xml", "name": "Example sitemap", "kind": "sitemap"}, 5)
    assert [f.kind for f in load_feeds(feeds, 5)] == ["feed", "sitemap"]
    before = feeds.read_text(encoding="utf-8")
    with pytest.raises(FeedConfigError, match=r"feeds\[2\]\.name: duplicate of feeds\[0\]"):
        append_feed(feeds, {"url": "https://other.example/rss", "name": "News: Example"}, 5)
    with pytest.raises(FeedConfigError, match=r"feeds\[2\]\.url"):
        append_feed(feeds, {"url": "ftp://other.example/rss", "name": "Other"}, 5)
    assert feeds.read_text(encoding="utf-8") == before  # a refused entry never reaches the file
    taken = [f.name for f in load_feeds(feeds, 5)]
    assert entry_name(Candidate("https://news.example/a", "feed", Found.LINK, title="News: Example"), taken) == (
        "News: Example (2)"
    )
    assert entry_name(Candidate("https://site.example/feed", "feed", Found.PATH), taken) == "site.example"


@pytest.mark.slow
def test_newsflow_feeds_add(site: NewsFake, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text((PROJECT_ROOT / "feeds.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {
        **os.environ,
        "NEWSFLOW_ALLOW_HOSTS": "127.0.0.1",
        "NEWSFLOW_FEEDS": str(feeds),
        "NEWSFLOW_DB": str(tmp_path / "news.duckdb"),
        "COLUMNS": "250",
    }
    newsflow = str(Path(sys.executable).parent / "newsflow")

    def add(*args: str, columns: int = 250) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [newsflow, "feeds", "add", *args],
            env={**env, "COLUMNS": str(columns)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    dry = add(site.url("/"), "--dry-run")
    assert dry.returncode == 0 and "would add 'Daring Fireball'" in dry.stdout and "sitemap-news.xml" in dry.stdout
    assert "HTTP 410 Gone" in dry.stdout  # what was found and could not be read is shown too
    narrow = add(site.url("/"), "--dry-run", columns=80).stdout.splitlines()
    rows = [line for line in narrow if line.startswith("│ ")]
    assert rows and all(cell_len(line) <= 80 for line in narrow if line.startswith(("│", "┃")))
    assert site.url("/feeds/main") in rows[0] and all(site.url("/") in row for row in rows)  # the URL is never cut
    assert load_feeds(feeds, 5) == []
    added = add(site.url("/"), "--json")
    assert added.returncode == 0, added.stderr
    report = json.loads(added.stdout)
    assert report["added"] and report["entry"] == {"url": site.url("/feeds/main"), "name": "Daring Fireball"}
    assert [(f.url, f.name) for f in load_feeds(feeds, 5)] == [(site.url("/feeds/main"), "Daring Fireball")]
    assert feeds.read_text(encoding="utf-8").startswith("# Feeds newsflow polls")

    again = add(site.url("/"))
    assert again.returncode == 0 and "already in" in again.stdout and len(load_feeds(feeds, 5)) == 1
    sitemap = add(site.url("/"), "--pick", "2", "--name", "Daring Fireball news sitemap")
    assert sitemap.returncode == 0, sitemap.stderr
    assert [f.kind for f in load_feeds(feeds, 5)] == ["feed", "sitemap"]
    given = add(site.url("/sitemap_index.xml"))  # a sitemap URL given directly is added as it is
    assert given.returncode == 0, given.stderr
    assert [(f.url, f.name, f.kind) for f in load_feeds(feeds, 5)][-1] == (
        site.url("/sitemap_index.xml"),
        "Daring Fireball sitemap",
        "sitemap",
    )
    undated = add(site.url("/sitemap-pages.xml"))
    assert undated.returncode == 1 and "no URL dated within 2 days" in undated.stderr
    missing = add(site.url("/"), "--pick", "9")
    assert missing.returncode == 1 and "candidate 9 is not listed" in missing.stderr
    nothing = add(site.url("/private/page.html"))
    assert (
        nothing.returncode == 1 and "no readable feed found" in nothing.stderr and "robots_disallowed" in nothing.stderr
    )
    assert len(load_feeds(feeds, 5)) == 3
