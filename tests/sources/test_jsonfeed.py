"""JSON Feed 1.0/1.1 over HTTP and from bytes: real saved feeds served by the local news site, the same polling,
accounting and quarantine reasons as RSS/Atom. (Saved `.json` files in the seed folder:
tests/sources/test_formats.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from newsfake import CONDITIONAL_ETAG, NewsFake, loopback_policy

from pipelines.http.fetcher import Fetcher
from pipelines.records import FeedState, Status
from pipelines.sources.feed_config import FeedConfig
from pipelines.sources.jsonfeed import parse_feed
from pipelines.sources.polling import FeedHistory, poll_feed

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RESOURCES = "/feeds/rsparser/Tests/RSParserTests/Resources"
FEED_URL = "https://news.example/feed.json"


def nothing_seen(source_id: str, keys: object, urls: object) -> set[str]:
    return set()


def test_items_without_identity_numbers_as_ids_relative_links_and_repeats() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Wire",
        "home_page_url": "/",
        "language": "en",
        "items": [
            {
                "id": 101,
                "url": "/2026/a.html",
                "title": "A",
                "content_text": "Text of A.",
                "date_published": "2026-11-01T09:00:00Z",
            },
            {"id": "101", "url": "/2026/a-again.html", "content_text": "The same id again."},
            "not an item",
            {"id": "b", "summary": "Only a summary.", "date_modified": "2026-11-01", "language": "fr"},
            {"id": True, "date_published": "not a date", "content_html": "<p>A boolean is no id.</p>"},
        ],
    }
    feed = parse_feed(json.dumps(document).encode(), {"Content-Type": "application/feed+json"}, FEED_URL)
    assert feed.problem is None and (feed.version, feed.title, feed.link, feed.language) == (
        "jsonfeed1.1",
        "Wire",
        "https://news.example/",
        "en",
    )
    assert [(entry.guid, entry.link) for entry in feed.entries] == [
        ("101", "https://news.example/2026/a.html"),
        (None, None),
        ("b", None),
        (None, None),
    ]
    assert feed.duplicates == 1  # the second "101"; items without identity are kept for the poll to count
    a, _, b, dated_badly = feed.entries
    assert a.content_html == "<p>Text of A.</p>" and a.published == datetime(2026, 11, 1, 9, tzinfo=UTC)
    assert (b.summary_html, b.updated, b.language) == (
        "<p>Only a summary.</p>",
        datetime(2026, 11, 1, tzinfo=UTC),
        "fr",
    )
    assert dated_badly.published is None and dated_badly.content_html == "<p>A boolean is no id.</p>"


def test_json_bodies_that_are_no_json_feed_name_why() -> None:
    for body, note in [
        (b'{"rss": {"channel": {}}}', "JSON that is not a JSON Feed"),
        (b'[{"title": "an API list"}]', "JSON that is not a JSON Feed"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}',
            "jsonfeed1.1 feed whose 'items' is not a list",
        ),
        (b'{"version": "https://jsonfeed.org/version/1", "items": [', "invalid JSON at line 1"),
        (b"[" * 100_000, "unreadable JSON (RecursionError)"),
    ]:
        feed = parse_feed(body, {}, FEED_URL)
        assert feed.problem is not None and feed.note.startswith(note), (body[:40], feed.note)


def test_a_json_feed_is_polled_like_rss(news_server: NewsFake) -> None:
    """A real JSON Feed 1.0 (inessential.com): every item taken, its page fetched from the local site, the item's
    content_html kept as the fallback; the ETag is remembered and the next poll is a 304 with nothing fetched."""
    news_server.reset()
    feed = FeedConfig(news_server.url("/conditional/feed.json"), "Inessential", 5, max_items=8)
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        first = poll_feed(feed, FeedHistory(None, nothing_seen), client, "run-1", NOW)
        remembered = FeedState(feed.source_id, feed.url, feed.name, etag=CONDITIONAL_ETAG)
        again = poll_feed(feed, FeedHistory(remembered, nothing_seen), client, "run-2", NOW)
    counts = first.counts
    assert (counts["items_seen"], counts["items_already_seen"], counts["items_duplicate_in_feed"]) == (20, 0, 0)
    assert (len(first.fresh), counts["items_deferred"], counts["pages_fetched"]) == (8, 12, 8)
    assert all(item.url and item.url.startswith(news_server.base_url) for item in first.fresh)
    assert all(draft.html and draft.fallback_html and draft.published_at for draft in first.batch.drafts)
    assert first.batch.drafts[0].title == "James Dempsey and the Breakpoints Benefit App Camp for Girls"
    assert first.batch.drafts[0].authors == ("Brent Simmons",)  # the 1.0 feed-level author, inherited
    assert [event.kind for event in first.events] == ["feed"] + ["page"] * 8
    assert (again.state.last_outcome, again.batch.drafts, len(again.events)) == ("not_modified", [], 1)
    accept = news_server.request_headers["/conditional/feed.json"][0]["accept"]
    assert "application/feed+json" in accept


def test_json_that_is_not_a_feed_is_quarantined_with_its_reason(news_server: NewsFake) -> None:
    """Scripting News' RSS-in-JSON is real JSON but no JSON Feed: the body is quarantined, the feed backs off."""
    news_server.reset()
    feed = FeedConfig(news_server.url(f"{RESOURCES}/ScriptingNews.json"), "Scripting News", 5)
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        poll = poll_feed(feed, FeedHistory(None, nothing_seen), client, "run-1", NOW)
    (raw,) = poll.batch.raw_documents
    assert raw.status == Status.QUARANTINED and raw.reason is not None
    assert raw.reason.startswith("not_a_feed: JSON that is not a JSON Feed")
    assert [rejection.reason for rejection in poll.batch.rejections] == [raw.reason]
    assert (poll.state.consecutive_failures, poll.state.last_error) == (1, raw.reason)
    assert poll.batch.drafts == [] and poll.fresh == []


def test_items_without_id_or_url_are_counted_apart(news_server: NewsFake) -> None:
    """A JSON Feed item with neither `id` nor `url` (or not an object) has no key: counted as such, not as seen,
    so every item is accounted once: new, already seen, without a key."""
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Wire",
        "items": [
            {"id": "wire-1", "content_text": "A story with an id."},
            {"content_html": "<p>No id, no url.</p>", "date_published": "2026-11-02T09:00:00Z"},
            "not an item",
            {"id": "wire-0", "content_text": "Seen in an earlier poll."},
        ],
    }
    feed = FeedConfig(
        news_server.put("keyless.json", json.dumps(document).encode(), "application/feed+json"), "Wire", 5
    )
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        poll = poll_feed(
            feed, FeedHistory(None, lambda source_id, keys, urls: {"wire-0"} & set(keys)), client, "run-1", NOW
        )
    counts = poll.counts
    assert [item.key for item in poll.fresh] == ["wire-1"]
    assert (counts["items_seen"], counts["items_without_key"], counts["items_already_seen"]) == (4, 2, 1)
    assert counts["items_seen"] == len(poll.fresh) + counts["items_without_key"] + counts["items_already_seen"]
