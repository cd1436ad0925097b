"""Feed polling against a real local HTTP server: conditional requests, per-feed state, backoff, accounting."""

from __future__ import annotations

import re
import sqlite3
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import run_dag_test
from newsfake import CONDITIONAL_ETAG, DUPLICATED_GUIDS, NewsFake, loopback_policy
from table_snapshot import scalar

from pipelines.config import Settings
from pipelines.http.fetcher import Fetcher, FetchPolicy
from pipelines.pipeline import due_feeds, feed_states, ingest_feeds
from pipelines.records import NO_ARTICLE, FeedState, Rejection, Status
from pipelines.sources.feed_config import FeedConfig, FeedConfigError, load_feeds
from pipelines.sources.polling import FeedHistory, feed_items, is_due, poll_feed

REAL_FEED = "/feeds/feedjira/spec/sample_feeds/TechCrunch.xml"


def write_feeds(path: Path, server: NewsFake, max_items: int = 500) -> Path:
    path.write_text(
        textwrap.dedent(f"""\
        feeds:
          - {{url: "{server.url("/conditional/feed.xml")}", name: Conditional, max_items: 500}}
          - {{url: "{server.url(REAL_FEED)}", name: TechCrunch, max_items: {max_items}, language: en}}
          - {{url: "{server.url("/status/404")}", name: Gone, poll_minutes: 10}}
          - {{url: "{server.url("/html-as-feed.xml")}", name: Not a feed}}
          - {{url: "{server.url("/dup-guids.xml")}", name: Duplicates}}
          - {{url: "{server.url("/private/feed.xml")}", name: Forbidden by robots}}
          - {{url: "{server.url("/status/500")}", name: Switched off, enabled: false}}
        """)
    )
    return path


@pytest.fixture()
def feed_settings(tmp_path: Path, news_server: NewsFake, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSFLOW_ALLOW_HOSTS", "127.0.0.1")
    return Settings.from_env(
        db_path=tmp_path / "news.duckdb",
        staging_dir=tmp_path / "staging",
        feeds_file=write_feeds(tmp_path / "feeds.yaml", news_server),
    )


def fetcher(settings: Settings) -> Fetcher:
    """The run's policy from its Settings (NEWSFLOW_ALLOW_HOSTS read there), without the politeness delay."""
    return Fetcher(FetchPolicy.from_settings(settings, per_host_delay=0.0, total_timeout=10.0))


def test_feeds_yaml_errors_name_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds: []\n")
    assert load_feeds(path, 5) == []
    path.write_text("# nothing yet\n")
    assert load_feeds(path, 5) == []
    path.write_text("feeds:\n  - url: https://a.example/rss\n    name: A\n  - url: ftp://b.example/rss\n    name: B\n")
    with pytest.raises(FeedConfigError, match=r"feeds.yaml:4: feeds\[1\].url: required, an absolute http"):
        load_feeds(path, 5)
    path.write_text("feeds:\n  - url: https://a.example/rss\n    name: A\n    poll_minutes: soon\n")
    with pytest.raises(FeedConfigError, match=r":4: feeds\[0\].poll_minutes"):
        load_feeds(path, 5)
    path.write_text("feeds:\n  - {url: 'https://a.example/rss', name: A, colour: red}\n")
    with pytest.raises(FeedConfigError, match="unknown field"):
        load_feeds(path, 5)
    path.write_text("feeds:\n  - {url: 'https://a.example/1', name: A}\n  - {url: 'https://a.example/2', name: A}\n")
    with pytest.raises(FeedConfigError, match=r":3: feeds\[1\].name: duplicate of feeds\[0\]"):
        load_feeds(path, 5)
    feed = load_feeds(_write(path, "feeds:\n  - {url: 'https://a.example/1', name: A}\n"), 7)[0]
    assert (feed.poll_minutes, feed.enabled, feed.max_items) == (7, True, 200)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.slow
def test_polling_accounts_for_every_item_and_backs_off_broken_feeds(
    feed_settings: Settings, news_server: NewsFake
) -> None:
    news_server.reset()
    with fetcher(feed_settings) as client:
        first = ingest_feeds(feed_settings, force=True, fetcher=client)
    assert first is not None and first.articles_new > 0
    seen = first.stage_counts
    con = duckdb.connect(str(feed_settings.db_path), read_only=True)
    items = scalar(con.execute("SELECT count(*) FROM feed_items"))
    # every item seen in a feed: new (loaded or quarantined), already seen, duplicate in the feed, or deferred
    assert (
        seen["items_seen"]
        == items + seen["items_already_seen"] + seen["items_duplicate_in_feed"] + seen["items_deferred"]
    )
    assert seen["items_duplicate_in_feed"] >= 3
    # a loaded item is its story's article or a recorded copy of it (the fake site reuses real pages)
    orphans = scalar(
        con.execute(
            "SELECT count(*) FROM feed_items i LEFT JOIN articles a USING (article_id)"
            " LEFT JOIN article_duplicates d ON d.duplicate_article_id = i.article_id"
            " WHERE i.outcome = 'loaded' AND a.article_id IS NULL AND d.duplicate_article_id IS NULL"
        )
    )
    assert orphans == 0
    states = {
        name: (outcome, failures, etag, next_poll)
        for name, outcome, failures, etag, next_poll in con.execute(
            "SELECT name, last_outcome, consecutive_failures, etag, next_poll_at FROM feed_state"
        ).fetchall()
    }
    assert "Switched off" not in states  # disabled feeds are not polled
    assert states["Gone"][:2] == ("http_error", 1)
    assert states["Not a feed"][1] == 1 and states["Forbidden by robots"][:2] == ("robots_disallowed", 1)
    assert states["Conditional"][0] == "ok" and states["Conditional"][2]
    assert (states["Gone"][3] - datetime.now(UTC)).total_seconds() > 10 * 60  # backed off past its poll interval
    reason = scalar(con.execute("SELECT reason FROM raw_documents WHERE uri LIKE '%html-as-feed.xml'"))
    assert reason.startswith("not_a_feed")
    extractors = dict(con.execute("SELECT extractor, count(*) FROM articles GROUP BY ALL").fetchall())
    assert extractors.get("trafilatura", 0) > 0
    before = {t: scalar(con.execute(f"SELECT count(*) FROM {t}")) for t in ("articles", "raw_documents", "feed_items")}
    con.close()
    assert news_server.requests_to("/status/500") == 0

    # Not due yet: a normal poll right away makes no request at all.
    news_server.reset()
    assert due_feeds(feed_settings) == []
    assert news_server.total_requests() == 0

    # Forced: unchanged feeds cost one (conditional) request each and no page is fetched again.
    snapshot = feed_settings.db_path.stat().st_ino
    with fetcher(feed_settings) as client:
        second = ingest_feeds(feed_settings, force=True, fetcher=client)
    assert second is not None  # forced: every feed is due
    assert second.articles_new == 0 and second.stage_counts["pages_fetched"] == 0
    conditional = news_server.request_headers["/conditional/feed.xml"][-1]
    assert {k.lower(): v for k, v in conditional.items()}.get("if-none-match")
    assert sum(hits for path, hits in news_server.hits.items() if path.startswith("/site/")) == 0
    # Nothing analysts query changed: the snapshot was not copied again, yet the polls' state is what plans read.
    assert not second.published and feed_settings.db_path.stat().st_ino == snapshot
    con = duckdb.connect(str(feed_settings.db_path), read_only=True)
    after = {t: scalar(con.execute(f"SELECT count(*) FROM {t}")) for t in before}
    con.close()
    assert after == before
    saved = {state.name: state for state in feed_states(feed_settings).values()}
    assert saved["Conditional"].last_outcome == "not_modified" and saved["TechCrunch"].last_outcome == "unchanged"
    assert saved["Gone"].consecutive_failures == 2
    assert due_feeds(feed_settings) == []  # the next plan sees those polls: nothing is due again


@pytest.mark.slow
def test_max_items_defers_the_rest_to_the_next_poll(
    tmp_path: Path, news_server: NewsFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_ALLOW_HOSTS", "127.0.0.1")
    feeds = _write(
        tmp_path / "feeds.yaml",
        f"feeds:\n  - {{url: '{news_server.url('/big-feed.xml')}', name: Big, max_items: 10}}\n",
    )
    settings = Settings.from_env(db_path=tmp_path / "n.duckdb", staging_dir=tmp_path / "st", feeds_file=feeds)
    totals = []
    with fetcher(settings) as client:
        for _ in range(2):
            loaded = ingest_feeds(settings, force=True, fetcher=client)
            assert loaded is not None  # forced: the feed is due
            counts = loaded.stage_counts
            totals.append(
                (counts["items_seen"], counts["items_already_seen"], counts["pages_fetched"], counts["items_deferred"])
            )
    assert totals == [(5000, 0, 10, 4990), (5000, 10, 10, 4980)]
    con = duckdb.connect(str(settings.db_path), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT item_key) FROM feed_items").fetchone() == (20, 20)
    assert con.execute("SELECT etag, last_body_hash FROM feed_state").fetchone() == (
        None,
        None,
    )  # read in full next time
    con.close()


NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def nothing_seen(source_id: str, keys: object, urls: object) -> set[str]:
    return set()


def test_poll_returns_drafts_and_feed_rows_without_normalizing(news_server: NewsFake) -> None:
    """The poller alone, no database: raw documents, drafts and rows come out; items are accounted after the build."""
    news_server.reset()
    feed = FeedConfig(news_server.url("/dup-guids.xml"), "Duplicates", 5, language="en")
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        poll = poll_feed(feed, FeedHistory(None, nothing_seen), client, "run-1", NOW)
    unique = DUPLICATED_GUIDS + 1
    assert (poll.counts["items_seen"], poll.counts["items_duplicate_in_feed"], poll.counts["pages_fetched"]) == (
        2 * DUPLICATED_GUIDS + 1,
        DUPLICATED_GUIDS,
        unique,
    )
    assert [item.guid for item in poll.fresh] == [f"item-{n}" for n in range(unique)]
    assert [draft.item_key for draft in poll.batch.drafts] == [item.key for item in poll.fresh]
    assert all(draft.html and draft.fallback_html and draft.language == "en" for draft in poll.batch.drafts)
    assert [raw.status for raw in poll.batch.raw_documents] == [Status.LOADED] * (unique + 1)  # pages, then the feed
    assert poll.batch.raw_documents[-1].uri == feed.url and poll.batch.source.source_id == feed.source_id
    assert [(event.kind, event.outcome, event.run_id) for event in poll.events] == [
        ("feed", "ok", "run-1"),
        *[("page", "ok", "run-1")] * unique,
    ]
    assert (poll.state.last_outcome, poll.state.consecutive_failures, poll.state.last_polled_at) == ("ok", 0, NOW)

    first, *rest = poll.fresh
    refused = Rejection(poll.batch.drafts[1].raw_id, "extract", "no article text could be extracted", rest[0].key)
    items = feed_items(poll, [], [refused])
    assert [(item.item_key, item.outcome, item.reason) for item in items[:2]] == [
        (first.key, Status.QUARANTINED, NO_ARTICLE),
        (rest[0].key, Status.QUARANTINED, refused.reason),
    ]
    assert {(item.first_seen_at, item.run_id, item.source_id) for item in items} == {(NOW, "run-1", feed.source_id)}


def test_an_interval_of_n_minutes_means_n_minutes(news_server: NewsFake) -> None:
    """A poll starts seconds after its tick; the next is due an interval after the tick, so the next tick polls."""
    news_server.reset()
    feed = FeedConfig(news_server.url("/conditional/feed.xml"), "Conditional", 1, max_minutes=1)  # not learned
    started = NOW + timedelta(seconds=3)
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        ticked = poll_feed(feed, FeedHistory(None, nothing_seen), client, "run-1", started, scheduled_at=NOW)
        by_hand = poll_feed(feed, FeedHistory(None, nothing_seen), client, "run-2", started)  # the CLI: no schedule
    assert ticked.state.last_polled_at == started
    assert ticked.state.next_poll_at == NOW + timedelta(minutes=1)
    assert is_due(feed, ticked.state, NOW + timedelta(minutes=1))  # the next tick polls it
    assert by_hand.state.next_poll_at == started + timedelta(minutes=1)
    assert not is_due(feed, by_hand.state, NOW + timedelta(minutes=1))


def test_the_feed_state_is_the_cursor_of_the_next_poll(news_server: NewsFake) -> None:
    """Validators and seen items come in as arguments: what earlier polls took is not taken again."""
    news_server.reset()
    feed = FeedConfig(news_server.url("/conditional/feed.xml"), "Conditional", 5, max_items=2)
    with Fetcher(loopback_policy(total_timeout=10.0)) as client:
        first = poll_feed(feed, FeedHistory(None, nothing_seen), client, "run-1", NOW)
        seen = {item.key for item in first.fresh}
        rest = poll_feed(
            feed, FeedHistory(first.state, lambda source_id, keys, urls: seen & set(keys)), client, "run-2", NOW
        )
        remembered = FeedState(feed.source_id, feed.url, feed.name, etag=CONDITIONAL_ETAG)
        unchanged = poll_feed(feed, FeedHistory(remembered, nothing_seen), client, "run-3", NOW)
    assert first.state.etag is None and first.counts["items_deferred"] > 0  # items deferred: read in full next time
    assert len(rest.fresh) == 2 and not seen & {item.key for item in rest.fresh}
    assert rest.counts["items_already_seen"] == 2
    assert unchanged.state.last_outcome == "not_modified" and unchanged.batch.drafts == []
    assert [event.outcome for event in unchanged.events] == ["not_modified"]


@pytest.mark.slow
def test_feed_ingest_dag_polls_the_local_server(
    airflow_env: dict[str, str], news_server: NewsFake, tmp_path: Path
) -> None:
    """One poll task for the tick's six feeds; a later tick that finds nothing new publishes nothing and emits no
    Asset event, yet leaves the polls' state for the next plan."""
    env = {
        **airflow_env,
        "NEWSFLOW_ALLOW_HOSTS": "127.0.0.1",
        "NEWSFLOW_FEEDS": str(write_feeds(tmp_path / "feeds.yaml", news_server, max_items=3)),
        "NEWSFLOW_DB": str(tmp_path / "feeds.duckdb"),
    }
    result = run_dag_test(env, "feed_ingest.py", "feed_ingest_dag")
    assert result["state"].endswith("success")
    con = duckdb.connect(env["NEWSFLOW_DB"], read_only=True)
    assert scalar(con.execute("SELECT count(*) FROM articles")) > 0
    assert scalar(con.execute("SELECT count(*) FROM feed_state")) == 6
    assert con.execute("SELECT status FROM ingest_runs").fetchall() == [("success",)]
    con.close()
    assert (tmp_path / ".writer" / "feeds.duckdb").is_file()  # the load task's private file, published above
    metadata = sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db")
    tasks = metadata.execute(
        "SELECT task_id, map_index, state FROM task_instance WHERE run_id = ? ORDER BY task_id", [result["run_id"]]
    ).fetchall()
    assert tasks == [
        ("load", -1, "success"),
        ("plan", -1, "success"),
        ("poll", 0, "success"),
        ("record_failure", -1, "skipped"),
        ("validate", -1, "success"),
    ]  # one poll task for six feeds
    label = metadata.execute(
        "SELECT rendered_map_index FROM task_instance WHERE run_id = ? AND task_id = 'poll'", [result["run_id"]]
    ).fetchone()
    assert label == ("6 feeds",)  # how the UI names the mapped task
    assert (
        "Gone: HTTP 404 http_error" in result["output"] and "Conditional: HTTP 200, " in result["output"]
    )  # a line per feed
    output = result["output"]  # and a line per stage, validation and load, with the counts
    assert re.search(
        r"staged \S+: \d+ inputs, [1-9]\d* articles, \d+ refused \(\d+ entity mentions, \d+ quotes\)", output
    ), output[-3000:]
    assert re.search(r"validated [1-9]\d* articles: \d+ rows refused", output)
    assert re.search(r"loaded run \S+: \d+ inputs, [1-9]\d* new articles, .*; published", output)

    # A day later every feed is due again; those left in the file have nothing new (the others still had items
    # waiting past max_items): a 304, the same failures.
    quiet_feeds = tmp_path / "quiet.yaml"
    quiet_feeds.write_text(
        "feeds:\n"
        + "".join(
            line + "\n"
            for line in (tmp_path / "feeds.yaml").read_text().splitlines()
            if "Gone" in line or "Forbidden" in line or "Not a feed" in line
        )
    )
    snapshot = Path(env["NEWSFLOW_DB"]).stat().st_ino
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    quiet = run_dag_test(
        {**env, "NEWSFLOW_FEEDS": str(quiet_feeds)}, "feed_ingest.py", "feed_ingest_dag", logical_date=later
    )
    assert quiet["state"].endswith("success")
    assert Path(env["NEWSFLOW_DB"]).stat().st_ino == snapshot  # not published again
    events = metadata.execute(
        "SELECT a.name FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE e.source_dag_id = 'feed_ingest'"
    ).fetchall()  # the session's other DAG runs emit too
    assert events == [("newsflow_articles",)]  # the first run's only
    metadata.close()
    polled = Settings.from_env(db_path=Path(env["NEWSFLOW_DB"]))
    states = {state.name: state for state in feed_states(polled).values()}
    assert states["Gone"].consecutive_failures == 2 and states["Not a feed"].consecutive_failures == 2
    assert states["Conditional"].consecutive_failures == 0  # not in the quiet file: polled once


@pytest.mark.slow
def test_a_feed_ingest_run_on_a_broken_feeds_file_is_recorded_as_failed(
    airflow_env: dict[str, str], tmp_path: Path
) -> None:
    """`plan` fails on a YAML syntax error: the run is red in Airflow and its row says why, with the line."""
    broken = tmp_path / "feeds.yaml"
    broken.write_text('feeds:\n  - url: "http://127.0.0.1/feed.xml"\n    name: [unclosed\n', encoding="utf-8")
    env = {
        **airflow_env,
        "NEWSFLOW_FEEDS": str(broken),
        "NEWSFLOW_DB": str(tmp_path / "feeds.duckdb"),
        "NEWSFLOW_STAGING_DIR": str(tmp_path / "staging"),
    }
    result = run_dag_test(env, "feed_ingest.py", "feed_ingest_dag")
    assert result["state"].endswith("failed"), result["output"][-4000:]
    con = duckdb.connect(env["NEWSFLOW_DB"], read_only=True)
    ((status, error),) = con.execute("SELECT status, error FROM ingest_runs").fetchall()
    con.close()
    assert status == "failed" and error.startswith("plan: ") and "feeds.yaml" in error and "line" in error, error
