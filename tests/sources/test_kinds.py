"""Source kinds in one registry: feeds.yaml accepts the kinds it lists, and polling reads each with its own reader.

A kind is its reader plus one `KINDS` entry; the test registers one ("newest": a feed of which only the newest
item is taken) and polls it over real HTTP, with nothing else changed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsfake import NewsFake, loopback_policy

from pipelines.http.fetcher import Fetcher
from pipelines.http.outcome import FetchResult
from pipelines.sources.feed_config import FeedConfig, FeedConfigError, load_feeds
from pipelines.sources.kinds import FEED, KINDS, SITEMAP, SourceKind, read_feed
from pipelines.sources.listing import Listing, ListingWindow
from pipelines.sources.polling import FeedHistory, poll_feed

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
DUPLICATES = "/dup-guids.xml"  # a feed of several items (newsfake)


def read_newest(result: FetchResult, fetcher: Fetcher, window: ListingWindow) -> Listing:
    listing = read_feed(result, fetcher, window)
    entries = listing.parsed.entries
    return Listing(replace(listing.parsed, entries=entries[:1]), counts={"items_trimmed": len(entries) - 1})


def test_feeds_yaml_accepts_exactly_the_registered_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - {url: 'https://example.com/rss', name: Example, kind: newest}\n")
    assert list(KINDS) == [FEED, SITEMAP]
    with pytest.raises(FeedConfigError, match=r"kind: must be 'feed' or 'sitemap'"):
        load_feeds(path, 5)
    path.write_text("feeds:\n  - {url: 'https://example.com/rss', name: Example, kind: [feed]}\n")
    with pytest.raises(FeedConfigError, match=r":2: feeds\[0\]\.kind: must be 'feed' or 'sitemap'"):
        load_feeds(path, 5)  # not a name at all
    path.write_text("feeds:\n  - {url: 'https://example.com/rss', name: Example, kind: newest}\n")
    monkeypatch.setitem(KINDS, "newest", SourceKind("newest", read_newest, note="a feed's newest item"))
    (feed,) = load_feeds(path, 5)
    assert feed.kind == "newest"
    path.write_text("feeds:\n  - {url: 'https://example.com/rss', name: Example, kind: newest, max_age_days: 2}\n")
    with pytest.raises(FeedConfigError, match=r"max_age_days: applies to kind: sitemap only \(a feed's newest item\)"):
        load_feeds(path, 5)


def test_a_registered_kind_is_polled_with_its_reader(news_server: NewsFake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "newest", SourceKind("newest", read_newest))
    news_server.reset()
    as_feed = FeedConfig(news_server.url(DUPLICATES), "Duplicates", 5, language="en")
    history = FeedHistory(None, lambda source, keys, urls: set())
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        whole = poll_feed(as_feed, history, client, "run-1", NOW)
        newest = poll_feed(replace(as_feed, kind="newest"), history, client, "run-2", NOW)
    assert len(whole.fresh) > 1
    assert [item.key for item in newest.fresh] == [whole.fresh[0].key]
    assert newest.counts["items_trimmed"] == len(whole.fresh) - 1  # the unique items but the newest
    assert {event.kind for event in newest.events} == {"newest", "page"}


def test_feeds_yaml_documents_every_kind() -> None:
    """The kinds feeds.yaml's reference names are the registered ones."""
    docs = (Path(__file__).parents[2] / "docs" / "sources.md").read_text(encoding="utf-8")
    for name in KINDS:
        assert f"kind: {name}" in docs or f"`{name}`" in docs, name
