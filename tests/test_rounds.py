"""A poll round over many hosts: fetches overlap across sites, each site's manners hold, bad sites cost their limits
once, and the tables never depend on how many fetches ran at once.

Real parts: a fleet of news sites on distinct loopback addresses (tests/fleet.py, a server process of its own),
the real fetcher, the real pipeline (trafilatura, spaCy, GX, DuckDB files). The fleet serves real article text
from ../shared when it is there, generated news-like text otherwise, so these tests need nothing a laptop lacks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fleet import FleetProcess, write_feeds_yaml
from table_snapshot import RUN_COLUMNS, snapshot

from pipelines import rounds
from pipelines.config import Settings
from pipelines.http.fetcher import Fetcher, FetchPolicy
from pipelines.pipeline import ingest_feeds, plan_polls
from pipelines.urls import host_of

ALLOW = "127.0.0.0/8"
# Columns that depend on when a round ran, not on what it read: request times, ids made from the run id, schedule.
ROUND_COLUMNS = RUN_COLUMNS | {
    "event_id",
    "at",
    "elapsed_ms",
    "last_polled_at",
    "next_poll_at",
    "last_success_at",
    "read_through_at",
    "expires_at",
    "learned_minutes",
}


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetProcess]:
    with FleetProcess(12, items=2, latency=0.05) as running:
        yield running


def _settings(tmp_path: Path, feeds: Path, **overrides: object) -> Settings:
    return Settings.from_env(
        db_path=tmp_path / "news.duckdb",
        staging_dir=tmp_path / "staging",
        feeds_file=feeds,
        allow_hosts=ALLOW,
        **overrides,
    )


@pytest.mark.slow
def test_a_round_reads_many_sites_at_once_each_within_its_manners(fleet: FleetProcess, tmp_path: Path) -> None:
    feeds = write_feeds_yaml(tmp_path / "feeds.yaml", fleet.feed_urls())
    settings = _settings(tmp_path, feeds, fetch_concurrency=6, workers=2)
    delay = 0.2
    fleet.reset()
    with Fetcher(FetchPolicy.from_settings(settings, per_host_delay=delay, per_host_concurrency=1)) as client:
        counts = ingest_feeds(settings, force=True, fetcher=client)
    assert counts is not None and (counts.stage_counts["feeds_polled"], counts.articles_new) == (12, 24)
    stats = fleet.stats()
    assert stats["by_kind"] == {"robots": 12, "feed": 12, "article": 24, "other": 0}
    assert 3 <= stats["max_in_flight"] <= 6  # sites overlapped, never more requests at once than the setting
    assert stats["max_site_in_flight"] == 1  # each site: one request at a time (per_host_concurrency)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    times = con.execute('SELECT source_id, list("at" ORDER BY "at") FROM fetch_events GROUP BY ALL').fetchall()
    con.close()
    assert len(times) == 12
    for _source, starts in times:  # the feed, then its two pages: each request `delay` after the one before
        assert len(starts) == 3
        assert all((later - earlier).total_seconds() >= delay - 0.01 for earlier, later in itertools.pairwise(starts))


@pytest.mark.slow
def test_the_tables_do_not_depend_on_how_many_fetch_at_once(
    fleet: FleetProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One fetch at a time with one page waiting at most (the round holds back polls), against sixteen."""
    feeds = write_feeds_yaml(tmp_path / "feeds.yaml", fleet.feed_urls())
    loaded = {}
    for concurrency, waiting, workers in ((1, 1, 1), (16, rounds.MAX_WAITING_PAGES, 2)):
        monkeypatch.setattr(rounds, "MAX_WAITING_PAGES", waiting)
        settings = _settings(tmp_path / f"c{concurrency}", feeds, fetch_concurrency=concurrency, workers=workers)
        with Fetcher(FetchPolicy.from_settings(settings, per_host_delay=0.0)) as client:
            counts = ingest_feeds(settings, force=True, fetcher=client)
        assert counts is not None and counts.articles_new == 24
        loaded[concurrency] = snapshot(settings.db_path, ROUND_COLUMNS)
    assert loaded[1]["articles"] and loaded[1]["entity_mentions"] and loaded[1]["fetch_events"]
    for table in loaded[1]:
        assert loaded[1][table] == loaded[16][table], table


@pytest.mark.slow
def test_bad_sites_cost_their_limits_once_not_one_after_another(tmp_path: Path) -> None:
    """Two hanging feeds, a 500, a redirect loop and a gzip bomb beside good feeds: each ends in its outcome within
    its limit, and the hanging ones wait side by side, not in turn."""
    with FleetProcess(7, items=1, latency=0.05, hang=2, error=1, loop=1, bomb=1) as bad_fleet:
        sites = bad_fleet.sites()
        feeds = write_feeds_yaml(tmp_path / "feeds.yaml", [site["url"] for site in sites])
        settings = _settings(tmp_path, feeds, fetch_concurrency=8, workers=1)
        timeout = 3.0
        with Fetcher(FetchPolicy.from_settings(settings, per_host_delay=0.0, total_timeout=timeout)) as client:
            counts = ingest_feeds(settings, force=True, fetcher=client)
    assert counts is not None and counts.stage_counts["feeds_failed"] == 5 and counts.articles_new == 2
    kinds = {f"Fleet {number:04d}": site["kind"] for number, site in enumerate(sites)}
    con = duckdb.connect(str(settings.db_path), read_only=True)
    rows = con.execute(
        'SELECT s.name, e.outcome, e."at", e.elapsed_ms FROM fetch_events e JOIN sources s'
        " USING (source_id) WHERE e.kind = 'feed' ORDER BY s.name"
    ).fetchall()
    con.close()
    outcomes = {kinds[name]: outcome for name, outcome, _, _ in rows if kinds[name] != "good"}
    assert outcomes == {"hang": "timeout", "error": "http_error", "loop": "redirect_loop", "bomb": "too_large"}
    hanging = [(at, elapsed) for name, outcome, at, elapsed in rows if kinds[name] == "hang"]
    assert len(hanging) == 2 and all(elapsed <= (timeout + 1) * 1000 for _, elapsed in hanging)
    (first, first_ms), (second, _) = sorted(hanging)
    assert (second - first).total_seconds() * 1000 < first_ms  # the second started before the first gave up


def test_a_tick_splits_its_due_feeds_into_poll_tasks_a_site_in_one(tmp_path: Path) -> None:
    feeds = write_feeds_yaml(
        tmp_path / "feeds.yaml", [f"https://site{number % 10}.example/feed{number}.xml" for number in range(30)]
    )
    groups = plan_polls(_settings(tmp_path, feeds, poll_tasks=4), force=True)
    assert len(groups) <= 4 and sum(map(len, groups)) == 30
    hosts = [{host_of(feed.url) for feed in group} for group in groups]
    assert all(not a & b for i, a in enumerate(hosts) for b in hosts[i + 1 :])  # no site in two tasks
    assert plan_polls(_settings(tmp_path, feeds, poll_tasks=4), force=True) == groups  # the same split every time
    assert [len(group) for group in plan_polls(_settings(tmp_path, feeds, poll_tasks=1), force=True)] == [30]
