"""Adaptive polling: the interval learned from items' publication times, the next poll it sets, and `newsflow feeds`.

Feeds are served by a real local server; dated items are written here so the expected interval is known.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from newsfake import NewsFake, loopback_policy, rss
from rich.cells import cell_len

from pipelines.config import Settings
from pipelines.http.fetcher import Fetcher
from pipelines.pipeline import ingest_feeds
from pipelines.records import FeedState
from pipelines.sources.cadence import (
    RECENT_ITEMS,
    SMOOTHING,
    learn,
    newest_item,
    observe,
    observed_minutes,
    poll_interval,
)
from pipelines.sources.feed_config import DEFAULT_MAX_MINUTES, FeedConfig
from pipelines.sources.polling import FeedHistory, poll_feed

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
REAL_FEED = "/feeds/feedjira/spec/sample_feeds/TechCrunch.xml"
TECHCRUNCH_MEDIAN_GAP = 12 + 50 / 60  # 20 items of 2 Nov 2011: the median of their 19 gaps is 12 min 50 s
TECHCRUNCH_NEWEST = datetime(2011, 11, 2, 17, 25, 27, tzinfo=UTC)


def every(minutes: float, count: int, newest: datetime = NOW) -> list[datetime]:
    return [newest - timedelta(minutes=minutes * n) for n in range(count)]


def dated_feed(server: NewsFake, name: str, dates: list[datetime]) -> str:
    """An RSS feed whose items (GUIDs only: no page to fetch) were published at `dates`."""
    items = [
        f'<item><title>Item {n}</title><guid isPermaLink="false">{name}-{date.isoformat()}</guid>'
        f"<pubDate>{format_datetime(date, usegmt=True)}</pubDate><description>Story {n}.</description></item>"
        for n, date in enumerate(dates)
    ]
    return server.put(name, rss(items), "application/rss+xml")


def nothing_seen(source_id: str, keys: object, urls: object) -> set[str]:
    return set()


def test_the_median_gap_of_the_newest_distinct_times() -> None:
    assert observed_minutes(every(30, 10), NOW) == 30
    burst = [*every(30, 5), NOW, NOW, NOW - timedelta(minutes=30)]  # items published together count once
    assert observed_minutes(burst, NOW) == 30
    odd = [*every(30, 9), NOW - timedelta(days=30)]  # one long silence does not move the median
    assert observed_minutes(odd, NOW) == 30
    recent_then_old = [*every(10, RECENT_ITEMS + 1), *every(1000, 30, NOW - timedelta(days=30))]
    assert observed_minutes(recent_then_old, NOW) == 10  # only the newest RECENT_ITEMS gaps count
    assert observed_minutes([*every(20, 5), NOW + timedelta(days=3)], NOW) == 20  # a date far in the future is wrong
    assert observed_minutes([NOW, NOW - timedelta(hours=1), None], NOW) is None  # one gap: no rhythm yet
    assert observed_minutes([NOW] * 50, NOW) is None  # every item stamped alike says nothing


def test_learning_smooths_observations_and_the_interval_stays_in_bounds() -> None:
    assert learn(None, None) is None and learn(None, 30) == 30 and learn(30, None) == 30
    assert learn(30, 60) == pytest.approx(30 + SMOOTHING * 30)
    assert poll_interval(None, 5, (5, 360)) == timedelta(minutes=5)
    assert poll_interval(42.4, 5, (5, 360)) == timedelta(minutes=42)
    assert poll_interval(2, 5, (5, 360)) == timedelta(minutes=5)
    assert poll_interval(5000, 5, (5, 360)) == timedelta(minutes=360)
    assert FeedConfig("https://a.example/rss", "A", 5).interval_bounds == (5, DEFAULT_MAX_MINUTES)
    assert FeedConfig("https://a.example/rss", "A", 15, min_minutes=2, max_minutes=60).interval_bounds == (2, 60)
    assert FeedConfig("https://a.example/rss", "A", 10, max_minutes=3).interval_bounds == (3, 3)


def test_each_poll_learns_and_the_next_poll_follows(news_server: NewsFake) -> None:
    feed_url = dated_feed(news_server, "cadence-30.xml", every(30, 12))
    feed = FeedConfig(feed_url, "Cadence", 5)
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        first = poll_feed(feed, FeedHistory(None, nothing_seen), client, "run-1", NOW)
        assert (first.state.learned_minutes, first.state.next_poll_at) == (30, NOW + timedelta(minutes=30))

        dated_feed(news_server, "cadence-30.xml", every(60, 12))  # the feed now publishes hourly
        later = NOW + timedelta(minutes=30)
        second = poll_feed(feed, FeedHistory(first.state, nothing_seen), client, "run-2", later)
        learned = 30 + SMOOTHING * (60 - 30)
        assert second.state.learned_minutes == pytest.approx(learned)
        assert second.state.next_poll_at == later + timedelta(minutes=round(learned))

        bounded = FeedConfig(feed_url, "Cadence", 5, max_minutes=20)
        assert poll_feed(bounded, FeedHistory(None, nothing_seen), client, "run-3", NOW).state.next_poll_at == (
            NOW + timedelta(minutes=20)
        )

        # A failure keeps what was learned and backs off from the learned interval (x2 per failure).
        broken = FeedConfig(news_server.url("/status/500"), "Broken", 5)
        state = FeedState(broken.source_id, broken.url, broken.name, learned_minutes=learned)
        failed = poll_feed(broken, FeedHistory(state, nothing_seen), client, "run-4", NOW)
    assert (failed.state.learned_minutes, failed.state.consecutive_failures) == (learned, 1)
    assert failed.state.next_poll_at == NOW + 2 * timedelta(minutes=round(learned))


def test_a_real_feed_sets_its_own_interval(news_server: NewsFake) -> None:
    """Polled minutes after its newest item, the saved TechCrunch feed of 2011 teaches its median gap; polled
    today, fifteen years of silence say it went quiet: the longest interval allowed."""
    feed = FeedConfig(news_server.url(REAL_FEED), "TechCrunch", 5, min_minutes=1)
    then = TECHCRUNCH_NEWEST + timedelta(minutes=4)
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        poll = poll_feed(feed, FeedHistory(None, nothing_seen), client, "run-1", then)
        today = poll_feed(feed, FeedHistory(None, nothing_seen), client, "run-2", NOW)
    assert poll.state.learned_minutes == pytest.approx(TECHCRUNCH_MEDIAN_GAP)
    assert (poll.state.next_poll_at, poll.state.newest_item_at) == (then + timedelta(minutes=13), TECHCRUNCH_NEWEST)
    assert today.state.learned_minutes == DEFAULT_MAX_MINUTES and today.state.next_poll_at == (
        NOW + timedelta(minutes=DEFAULT_MAX_MINUTES)
    )


def test_silence_is_observed_once_longer_than_the_learned_interval() -> None:
    assert newest_item([NOW - timedelta(hours=2), None, NOW + timedelta(days=2)], NOW - timedelta(hours=1), NOW) == (
        NOW - timedelta(hours=1)
    )  # the stored date is newer; a date days ahead is wrong
    assert newest_item([], None, NOW) is None
    hourly = every(60, 5, NOW - timedelta(hours=1))
    assert observe(hourly, NOW - timedelta(hours=1), 60, 360, NOW) == 60  # an hour since the last item: on time
    assert observe(hourly, NOW - timedelta(hours=1), 30, 360, NOW) == 60
    assert observe([], NOW - timedelta(minutes=20), 30, 360, NOW) is None  # a 304 within the interval: nothing
    assert observe([], NOW - timedelta(hours=3), 30, 360, NOW) == 180  # a 304 three hours after the last item
    assert observe(hourly, NOW - timedelta(hours=3), 60, 360, NOW) == 180  # the open gap is longer than the median
    assert observe([], NOW - timedelta(days=400), 30, 360, NOW) == 360  # up to the longest interval allowed
    assert observe([], NOW - timedelta(days=400), 500, 360, NOW) is None  # never pulls a longer interval down
    assert observe([], None, 30, 360, NOW) is None  # no date ever: nothing to learn


def test_a_feed_that_went_quiet_is_polled_less_often(news_server: NewsFake) -> None:
    """304s and unchanged bodies carry no items, but the newest date stored says how long the feed has been quiet."""
    news_server.reset()
    dates = every(30, 12)
    news_server.put(
        "quiet.xml",
        rss(
            [
                f"<item><title>{n}</title><guid>quiet-{n}</guid><pubDate>"
                f"{format_datetime(date, usegmt=True)}</pubDate><description>Story.</description>"
                f"</item>"
                for n, date in enumerate(dates)
            ]
        ),
        "application/rss+xml",
    )
    conditional = FeedConfig(news_server.url("/etag/quiet.xml"), "Quiet", 5)
    plain = FeedConfig(news_server.url("/bytes/quiet.xml"), "Quiet plain", 5)  # no validators: an unchanged body
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        first = poll_feed(conditional, FeedHistory(None, nothing_seen), client, "run-1", NOW)
        soon = poll_feed(
            conditional, FeedHistory(first.state, nothing_seen), client, "run-2", NOW + timedelta(minutes=20)
        )
        later = NOW + timedelta(hours=3)
        quiet = poll_feed(conditional, FeedHistory(soon.state, nothing_seen), client, "run-3", later)
        base = poll_feed(plain, FeedHistory(None, nothing_seen), client, "run-4", NOW)
        unchanged = poll_feed(plain, FeedHistory(base.state, nothing_seen), client, "run-5", later)
        again = poll_feed(conditional, FeedHistory(soon.state, nothing_seen), client, "run-6", later)
        slower = poll_feed(
            conditional, FeedHistory(quiet.state, nothing_seen), client, "run-7", later + timedelta(hours=3)
        )
    assert (first.state.learned_minutes, first.state.newest_item_at) == (30, NOW)
    assert (soon.state.last_outcome, soon.state.learned_minutes) == ("not_modified", 30)  # within the interval
    learned = 30 + SMOOTHING * (180 - 30)
    assert quiet.state.last_outcome == "not_modified" and quiet.state.learned_minutes == pytest.approx(learned)
    assert quiet.state.next_poll_at == later + timedelta(minutes=round(learned))
    assert (unchanged.state.last_outcome, unchanged.state.learned_minutes) == ("unchanged", pytest.approx(learned))
    assert quiet.state.newest_item_at == NOW and news_server.requests_to("/etag/quiet.xml") == 5
    # the same poll of the same state learns the same interval; a later quiet poll slows it further
    assert again.state == quiet.state
    assert slower.state.learned_minutes == pytest.approx(learned + SMOOTHING * (360 - learned))


@pytest.mark.slow
def test_newsflow_feeds_shows_the_learned_interval(
    news_server: NewsFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_ALLOW_HOSTS", "127.0.0.1")
    feeds = tmp_path / "feeds.yaml"
    every_45 = dated_feed(news_server, "cadence-45.xml", every(45, 8, datetime.now(UTC)))  # polled just after
    feeds.write_text(
        f"feeds:\n  - {{url: '{every_45}', name: Every45}}\n"
        f"  - {{url: '{news_server.url('/status/404')}', name: Gone, poll_minutes: 7}}\n"
    )
    settings = Settings.from_env(db_path=tmp_path / "news.duckdb", staging_dir=tmp_path / "staging", feeds_file=feeds)
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        ingest_feeds(settings, force=True, fetcher=client)
    env = {**os.environ, "NEWSFLOW_DB": str(settings.db_path), "NEWSFLOW_FEEDS": str(feeds), "COLUMNS": "250"}
    command = [str(Path(sys.executable).parent / "newsflow"), "feeds"]
    rows = {
        row["name"]: row
        for row in json.loads(
            subprocess.run(
                [*command, "--json"], env=env, capture_output=True, text=True, check=True, timeout=120
            ).stdout
        )
    }
    assert (rows["Every45"]["learned_minutes"], rows["Every45"]["interval_minutes"]) == (45, 45)
    assert (rows["Gone"]["learned_minutes"], rows["Gone"]["interval_minutes"]) == (None, 7)
    wide = subprocess.run(
        command, env={**env, "COLUMNS": "120"}, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "publishes every" in wide and "45 min" in wide and "http_error" in wide and "last error" in wide
    # at 80 columns: one line per feed, whole names and short times, and a note naming what was left out
    narrow = subprocess.run(
        command, env={**env, "COLUMNS": "80"}, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    lines = narrow.splitlines()
    assert all(cell_len(line) <= 80 for line in lines) and len(lines) == 2 + 4 + 2
    assert re.match(r"│ Every45 │ +200 │", lines[3]) and re.match(r"│ Gone +│ +404 │", lines[4]), narrow
    assert re.search(r"│ \d\d-\d\d \d\d:\d\d │ \d\d-\d\d \d\d:\d\d │", lines[3]), lines[3]
    assert [cell.strip() for cell in lines[1].split("┃")[1:6]] == ["name", "status", "outcome", "last poll", "next due"]
    assert "columns not shown:" in lines[-2] and "--format line" in lines[-1]
    records = subprocess.run(
        [*command, "--format", "line"],
        env={**env, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split("\n\n")
    assert len(records) == 2 and f"url: {every_45}" in records[0] and "publishes every: 45 min" in records[0]
