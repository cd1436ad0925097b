"""robots.txt per site (RFC 9309), against real local servers: read once, stored, reused by later runs until it expires.

Each test that changes robots.txt runs its own server (`own_server`): a site of its own, so the session's
shared server keeps the rules other tests rely on. Assertions are on requests the servers saw.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import duckdb
import pytest
from newsfake import NewsFake, loopback_policy

from pipelines.config import Settings
from pipelines.http.fetcher import Fetcher
from pipelines.http.robots import MAX_ROBOTS_AGE, UNREACHABLE_AGE, cache_lifetime
from pipelines.pipeline import ingest_feeds

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
ROBOTS = "User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap-news.xml\n"
ALLOWED = "/conditional/feed.xml"
DISALLOWED = "/private/feed.xml"


def serve_robots(server: NewsFake, status: int = 200, **headers: str) -> None:
    body = ROBOTS.format(base=server.base_url).encode()
    server.serve(
        "/robots.txt", body, "text/plain", status=status, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


def test_cache_lifetime_follows_the_headers_up_to_a_day() -> None:
    assert cache_lifetime({}, NOW) == MAX_ROBOTS_AGE == timedelta(hours=24)
    assert cache_lifetime({"cache-control": "public, max-age=600"}, NOW) == timedelta(minutes=10)
    assert cache_lifetime({"cache-control": "max-age=31536000"}, NOW) == MAX_ROBOTS_AGE  # RFC 9309: at most a day
    assert cache_lifetime({"cache-control": "no-store"}, NOW) == timedelta(0)
    assert cache_lifetime({"cache-control": "max-age=60", "expires": "0"}, NOW) == timedelta(minutes=1)  # max-age wins
    assert cache_lifetime({"expires": format_datetime(NOW + timedelta(hours=2), usegmt=True)}, NOW) == timedelta(
        hours=2
    )
    assert cache_lifetime({"expires": format_datetime(NOW - timedelta(hours=2), usegmt=True)}, NOW) == timedelta(0)
    assert cache_lifetime({"expires": "0"}, NOW) == timedelta(0)  # RFC 9111: an invalid date is in the past


def test_a_stored_robots_txt_is_reused_by_later_fetchers_until_it_expires(own_server: NewsFake) -> None:
    serve_robots(own_server, Cache_Control="max-age=120")
    with Fetcher(loopback_policy()) as first:
        assert first.fetch(own_server.url(DISALLOWED)).outcome == "robots_disallowed"
        assert first.fetch(own_server.url(ALLOWED)).ok
        assert first.robots_sitemaps(own_server.url("/")) == [own_server.url("/sitemap-news.xml")]
        stored = first.fetched_robots()
    assert own_server.requests_to("/robots.txt") == 1
    [record] = stored
    assert (
        record.origin == own_server.base_url and record.outcome == "ok" and "Disallow: /private/" in (record.body or "")
    )
    assert record.expires_at - record.fetched_at == timedelta(seconds=120)

    with Fetcher(loopback_policy()) as later:  # another run, starting from what the first one stored
        later.remember_robots(stored)
        assert later.fetch(own_server.url(DISALLOWED)).outcome == "robots_disallowed"
        assert later.fetch(own_server.url(ALLOWED)).ok
        assert later.fetched_robots() == []
    assert own_server.requests_to("/robots.txt") == 1
    assert own_server.requests_to(DISALLOWED) == 0

    expired = replace(
        record,
        fetched_at=record.fetched_at - timedelta(seconds=121),
        expires_at=record.expires_at - timedelta(seconds=121),
    )
    with Fetcher(loopback_policy()) as after_expiry:
        after_expiry.remember_robots([expired])
        assert after_expiry.fetch(own_server.url(ALLOWED)).ok
        assert after_expiry.fetch(own_server.url(ALLOWED)).ok
        assert [r.origin for r in after_expiry.fetched_robots()] == [own_server.base_url]
    assert own_server.requests_to("/robots.txt") == 2  # read again once, then kept for the rest of the run


def test_no_store_is_read_once_per_run_and_never_reused_by_the_next(own_server: NewsFake) -> None:
    serve_robots(own_server, Cache_Control="no-store")
    with Fetcher(loopback_policy()) as first:
        assert first.fetch(own_server.url(ALLOWED)).ok and first.fetch(own_server.url(ALLOWED)).ok
        stored = first.fetched_robots()
    assert stored[0].expires_at == stored[0].fetched_at
    with Fetcher(loopback_policy()) as second:
        second.remember_robots(stored)
        assert second.fetch(own_server.url(ALLOWED)).ok
    assert own_server.requests_to("/robots.txt") == 2


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "lifetime"),
    [
        (404, {}, "ok", MAX_ROBOTS_AGE),  # 4xx: no rules, everything allowed, kept as long as any robots.txt
        (410, {"Cache-Control": "max-age=300"}, "ok", timedelta(minutes=5)),  # a 4xx's own cache headers count
        (
            500,
            {"Cache-Control": "max-age=86400"},
            "robots_disallowed",
            UNREACHABLE_AGE,
        ),  # 5xx: stay out, ask again soon
        (503, {}, "retry_later", UNREACHABLE_AGE),  # the site asks to wait: the page is not requested either
    ],
)
def test_rfc9309_unavailable_and_unreachable_robots(
    own_server: NewsFake, status: int, headers: dict[str, str], outcome: str, lifetime: timedelta
) -> None:
    own_server.serve("/robots.txt", b"status", "text/plain", status=status, headers=headers)
    with Fetcher(loopback_policy()) as fetcher:
        result = fetcher.fetch(own_server.url(ALLOWED))
        [record] = fetcher.fetched_robots()
    assert result.outcome == outcome, result.note
    assert (record.http_status, record.expires_at - record.fetched_at) == (status, lifetime)
    assert own_server.requests_to(ALLOWED) == (1 if outcome == "ok" else 0)


@pytest.mark.slow
def test_separate_runs_share_the_stored_robots_txt_and_each_request_has_its_own_time(
    own_server: NewsFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `newsflow ingest --feeds` runs, each with its own fetcher: robots.txt is fetched by the first only, and
    every fetch_events row carries the time its request went out (not the run's start)."""
    monkeypatch.setenv("NEWSFLOW_ALLOW_HOSTS", "127.0.0.1")
    serve_robots(own_server)
    stories = own_server.distinct_stories(3)
    feed_url = own_server.stories_feed("stories.xml", stories)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - {{url: '{feed_url}', name: Stories}}\n")
    settings = Settings.from_env(db_path=tmp_path / "news.duckdb", staging_dir=tmp_path / "staging", feeds_file=feeds)
    started = datetime.now(UTC)
    for _run in range(2):
        # A politeness delay between requests to one host: request times are then distinct by construction.
        with Fetcher(loopback_policy(per_host_delay=0.05, total_timeout=10.0)) as client:
            assert ingest_feeds(settings, force=True, fetcher=client) is not None
    assert own_server.requests_to("/robots.txt") == 1

    # The second run found nothing new, so it published nothing: the writer's file holds both runs' requests.
    con = duckdb.connect(str(settings.writer_db_path), read_only=True)
    runs = con.execute('SELECT run_id, kind, "at" FROM fetch_events ORDER BY "at"').fetchall()
    origins = con.execute("SELECT origin, outcome, expires_at - fetched_at FROM robots_cache").fetchall()
    run_starts = dict(con.execute("SELECT run_id, started_at FROM ingest_runs").fetchall())
    con.close()
    assert origins == [(own_server.base_url, "ok", MAX_ROBOTS_AGE)]
    first_run = [(kind, at) for run_id, kind, at in runs if run_id == runs[0][0]]
    assert [kind for kind, _ in first_run] == ["feed", "page", "page", "page"]  # the feed first, then its pages
    assert len({at for _, _, at in runs}) == len(runs) == 5  # the second run: one conditional feed request
    assert all(started <= at and run_starts[run_id] <= at for run_id, _, at in runs)
