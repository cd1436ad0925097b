"""The data-quality report's aggregates on a real DuckDB file, its suites' pass rates from real GX results, its page."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import duckdb
import pytest
from conftest import PROJECT_ROOT
from markupsafe import escape
from quality_batches import make_batch
from quality_runs import project_copy

from pipelines.config import Settings
from pipelines.pipeline import ingest_folder
from pipelines.quality.docs import result_page, site_dir
from pipelines.quality.gate import validate_batch
from pipelines.reporting import charts, feed_report, report, suite_rates
from pipelines.reporting.page import NOT_LOADED, refusal_plot, render_page, trend_plots
from pipelines.reporting.refresh import quality_page_path, refresh_quality_page
from pipelines.storage.store import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SUITES_DIR = PROJECT_ROOT / "schemas" / "expectations"


def _at(hours_ago: float) -> datetime:
    return NOW - timedelta(hours=hours_ago)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database holding a small, known history: two feeds, refusals, runs, articles with annotations."""
    path = tmp_path_factory.mktemp("report") / "news.duckdb"
    with Store.open(path, PROJECT_ROOT / "schemas") as store, store.transaction():
        store.insert(
            "sources",
            [
                {
                    "source_id": s,
                    "kind": "feed",
                    "uri": f"https://{s}.example/rss",
                    "name": s.title(),
                    "created_at": _at(100),
                }
                for s in ("wire", "daily")
            ],
        )
        store.insert(
            "sources",
            [
                {
                    "source_id": "maps",
                    "kind": "sitemap",
                    "uri": "https://maps.example/sitemap.xml",
                    "name": "Maps",
                    "created_at": _at(100),
                }
            ],
        )
        raws = [
            {
                "raw_id": f"r{n}",
                "source_id": "wire" if n % 2 else "daily",
                "uri": f"https://x.example/{n}",
                "fetched_at": _at(n),
                "status": "quarantined" if n < 5 else "loaded",
                "run_id": "run-1",
            }
            for n in range(10)
        ]
        store.insert("raw_documents", raws)
        # Five refusals of one reason that differ only in a number, and one of another reason.
        store.insert(
            "quarantine",
            [
                {
                    "quarantine_id": f"q{n}",
                    "run_id": "run-1",
                    "raw_id": f"r{n}",
                    "stage": "parse",
                    "reason": f"bad XML at line {n + 3}",
                    "detail": "x" * 1000,
                    "created_at": _at(n),
                }
                for n in range(4)
            ],
        )
        store.insert(
            "quarantine",
            [
                {
                    "quarantine_id": "q9",
                    "run_id": "run-1",
                    "raw_id": "r4",
                    "stage": "read",
                    "reason": "empty file",
                    "created_at": _at(30),
                }
            ],
        )
        # Validation quarantined 3 of wire's 10 articles in batch b0, at one moment, with reasons differing in a number.
        store.insert(
            "quarantine",
            [
                {
                    "quarantine_id": f"v{n}",
                    "run_id": "b0",
                    "raw_id": f"r{raw}",
                    "stage": "validate",
                    "reason": f"word_count {n} differs from the body",
                    "detail": "d",
                    "table_name": "articles",
                    "record_id": f"x{raw}",
                    "created_at": _at(10),
                }
                for n, raw in ((7, 1), (9, 3), (8, 5))
            ],
        )
        feed_state = {"url": "u", "etag": None, "consecutive_failures": 0}
        store.insert(
            "feed_state",
            [
                {
                    **feed_state,
                    "source_id": "wire",
                    "name": "Wire",
                    "last_outcome": "not_modified",
                    "last_success_at": _at(1),
                },
                {
                    **feed_state,
                    "source_id": "daily",
                    "name": "Daily",
                    "consecutive_failures": 4,
                    "last_outcome": "http_error",
                    "last_error": "HTTP 500",
                    "last_success_at": _at(90),
                },
                {**feed_state, "source_id": "maps", "name": "Maps", "last_outcome": "ok", "last_success_at": _at(1)},
            ],
        )
        # A sitemap source's polls count (kind 'sitemap'); the article pages it led to (kind 'page') do not.
        store.insert(
            "fetch_events",
            [
                {
                    "event_id": f"m{n}",
                    "run_id": "run-1",
                    "source_id": "maps",
                    "url": "u",
                    "at": _at(n),
                    "kind": "sitemap" if n < 4 else "page",
                    "http_status": 304 if n == 0 else 200,
                    "outcome": "x",
                }
                for n in range(10)
            ],
        )
        store.insert(
            "fetch_events",
            [
                {
                    "event_id": f"e{n}",
                    "run_id": "run-1",
                    "source_id": "wire",
                    "url": "u",
                    "kind": "feed",
                    "at": _at(n),
                    "http_status": 304 if n % 4 else 200,
                    "outcome": "x",
                }
                for n in range(8)
            ],
        )
        store.insert(
            "feed_items",
            [
                {
                    "source_id": "wire",
                    "item_key": f"i{n}",
                    "outcome": "loaded",
                    "first_seen_at": _at(n),
                    "run_id": "run-1",
                }
                for n in range(14)
            ],
        )
        article = {
            "raw_id": "r9",
            "uri": "u",
            "title_missing": False,
            "mixed_language": False,
            "body_text": "b",
            "content_hash": "h",
            "fetched_at": _at(1),
            "extractor": "t",
            "flags": [],
            "version": 1,
            "updated_at": _at(1),
            "run_id": "run-1",
        }
        store.insert(
            "articles",
            [
                {
                    **article,
                    "article_id": f"a{n}",
                    "source_id": "wire",
                    "item_key": f"a{n}",
                    "word_count": 100 * (n + 1),
                    "first_seen_at": _at(1),
                }
                for n in range(3)
            ],
        )
        store.insert(
            "article_entities",
            [
                {
                    "article_id": "a0",
                    "local_id": e,
                    "name": e,
                    "name_key": e,
                    "votes": [("ORG", 1.0)],
                    "mentions": 2,
                    "entity_id": e,
                    "type": "ORG",
                }
                for e in ("e1", "e2")
            ],
        )
        store.insert(
            "article_duplicates",
            [
                {
                    "article_id": "a0",
                    "duplicate_article_id": "c0",
                    "duplicate_raw_id": "r8",
                    "source_id": "daily",
                    "method": "exact",
                    "similarity": 1.0,
                    "detected_at": _at(1),
                    "run_id": "run-1",
                }
            ],
        )
        # A source's batches: three of 10 articles, then a collapse to 1.
        store.insert(
            "run_source_counts",
            [
                {"run_id": f"b{n}", "source_id": "wire", "articles": count, "loaded_at": _at(10 - n)}
                for n, count in enumerate([10, 10, 10, 1])
            ],
        )
    return path


@pytest.fixture
def con(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(db), read_only=True)
    yield connection
    connection.close()


def test_feed_status_words() -> None:
    assert feed_report.feed_status(0, "ok", _at(1), disabled=False) == "ok"
    assert feed_report.feed_status(0, "not_modified", _at(1), disabled=False) == "not modified"
    assert feed_report.feed_status(1, "http_error", _at(1), disabled=False) == "backing off"
    assert feed_report.feed_status(feed_report.FAILING_AFTER, "http_error", _at(1), disabled=False) == "failing"
    assert feed_report.feed_status(1, "http_error", None, disabled=False) == "failing"  # it never worked
    assert feed_report.feed_status(5, "http_error", None, disabled=True) == "disabled"


def test_failing_feeds_come_first_with_their_volume_and_304_share(con: duckdb.DuckDBPyConnection) -> None:
    daily, maps, wire = feed_report.feeds(con, NOW)
    assert (daily.name, daily.status, daily.consecutive_failures, daily.last_error) == (
        "Daily",
        "failing",
        4,
        "HTTP 500",
    )
    assert (wire.name, wire.status) == ("Wire", "not modified")
    assert wire.items_per_day == pytest.approx(14 / feed_report.FEED_WINDOW_DAYS)
    assert wire.polls == 8 and wire.not_modified_share == pytest.approx(6 / 8)
    assert (maps.status, maps.polls, maps.not_modified_share) == ("ok", 4, pytest.approx(1 / 4))
    assert [row.status for row in feed_report.feeds(con, NOW, disabled={"daily"})] == ["ok", "not modified", "disabled"]


def test_reasons_differing_only_in_numbers_group_with_three_newest_examples(con: duckdb.DuckDBPyConnection) -> None:
    xml, words, empty = report.top_refusals(con)
    assert (xml.stage, xml.refused, xml.reason) == ("parse", 4, "bad XML at line 3")  # the newest wording
    assert [example.uri for example in xml.examples] == [
        "https://x.example/0",
        "https://x.example/1",
        "https://x.example/2",
    ]
    detail = xml.examples[0].detail
    assert xml.examples[0].source == "Daily" and detail is not None and len(detail) == report.DETAIL_CHARS
    assert (empty.reason, empty.refused, len(empty.examples)) == ("empty file", 1, 1)
    # Three wordings at the same moment: the label is the greatest, not whichever row DuckDB met first.
    assert (words.stage, words.refused, words.reason) == ("validate", 3, "word_count 9 differs from the body")
    others = [row for row in report.daily_refusals(con, _at(1000), top=1) if row.reason == report.OTHER]
    assert sum(row.refused for row in others) == 4


def test_daily_trends_and_the_volume_band_the_batch_suite_expects(con: duckdb.DuckDBPyConnection) -> None:
    stats = {row.day: row for row in report.daily_stats(con, _at(1000))}
    today = stats[_at(1).date()]
    assert (today.articles, today.duplicates, today.duplicate_share) == (3, 1, pytest.approx(1 / 4))
    assert today.words_per_article == pytest.approx(200) and today.entities_per_article == pytest.approx(2 / 3)
    assert (
        sum(row.inputs for row in stats.values()) == 10 and sum(row.quarantined_inputs for row in stats.values()) == 5
    )
    expected = json.loads((SUITES_DIR / "batch_sources.json").read_text())["meta"]["expected_range"]
    volumes = report.run_volume(con, _at(1000), expected)
    assert [(row.articles, row.rejected) for row in volumes] == [(10, 3), (10, 0), (10, 0), (1, 0)]
    assert [row.expected_min for row in volumes[:3]] == [None, None, None]  # fewer than min_history_batches before
    # The gate's rule on the three batches of 10 before it: floor(low_ratio * 10) .. ceil(high_ratio * 10) + slack.
    assert (volumes[3].expected_min, volumes[3].expected_max) == (
        int(expected["low_ratio"] * 10),
        int(expected["high_ratio"] * 10) + expected["high_slack"],
    )


@pytest.fixture(scope="module")
def gx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real validations: a clean batch, then one with a wrong word count."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(PROJECT_ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copytree(SUITES_DIR, root / "schemas" / "expectations")
    validate_batch(make_batch(6), root / "gx", "clean-run")
    bad = make_batch(6)
    bad["articles"].loc[0, "word_count"] = 3
    validate_batch(bad, root / "gx", "bad-run")
    return root / "gx"


def test_each_expectation_has_its_pass_rate_over_the_stored_results(gx_dir: Path) -> None:
    runs = suite_rates.validated_runs(gx_dir)
    assert [(run.run_id, run.failed_suites) for run in runs] == [("bad-run", ("articles",)), ("clean-run", ())]
    suites = suite_rates.suite_reports(suite_rates.load_suites(SUITES_DIR), runs)
    assert [suite.name for suite in suites] == ["articles", "entities", "entity_mentions", "quotes", "batch_sources"]
    rates = {rate.description: rate for suite in suites for rate in suite.expectations}
    word_count = rates["word_count equals the number of whitespace-separated words in body_text."]
    assert (word_count.runs, word_count.passed, word_count.failed_rows, word_count.rows) == (2, 1, 1, 12)
    assert rates["Every article has an id."].pass_rate == 1.0


def test_the_page_is_self_contained_and_plots_every_trend(db: Path, gx_dir: Path) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        collected = report.collect(con, gx_dir, SUITES_DIR, NOW)
    html = render_page(collected, site_dir(gx_dir), lambda path: result_page(gx_dir, path), "db")
    markup = re.sub(r"<script>.*?</script>", "", html, flags=re.DOTALL)  # the inlined libraries' code aside
    assert not re.search(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=""", markup)  # nothing to fetch: all inline
    assert "GX Data Docs" in html
    plots = {plot.key: plot for plot in trend_plots(collected)}
    assert all(plot.points > 0 for plot in plots.values()), {key: plot.points for key, plot in plots.items()}
    # Every plot is drawn in the file, one element per data point.
    for key, plot in {**plots, "refusals_per_day": refusal_plot(collected)}.items():
        figure = re.search(rf'<figure class="trend" data-plot="{key}".*?</figure>', html, re.DOTALL)
        assert figure and len(re.findall(r'class="(?:point|bar)"', figure[0])) == plot.points, key
    # The batch suite's limit on rejected_share is drawn over that same measure: rejected / articles per source per
    # batch, for the batches it checks (10+ articles): wire's b0 (3 of 10), b1, b2; not b3 (1 article).
    bound = collected.thresholds["rejected_share"]
    assert (bound.value, bound.applies_from) == (0.5, 10) and escape(bound.words) in html
    assert plots["rejected_share"].points == 3 and 'class="limit"' in plots["rejected_share"].svg
    assert "<title>Wire, 2026-11-20 02:00 UTC: 30.0%</title>" in plots["rejected_share"].svg
    assert 'class="limit"' not in plots["quarantine_share"].svg  # a daily share of inputs: no suite bounds it
    # A source has one colour in every plot that draws sources, and the same place in their legends.
    drawn = [_series_fills(plots[key].svg) for key in ("articles_per_source", "articles_per_run", "rejected_share")]
    fills = {name: fill for series in drawn for name, fill in series.items()}
    assert all(fills[name] == fill for series in drawn for name, fill in series.items())
    assert sum(map(len, drawn)) > len(fills) >= 1  # sources drawn in several plots (several sources: the test below)
    # A run that failed validation and is not in the database is listed, linked to its result pages;
    # a passing one is not.
    (row,) = re.findall(r'<tr class="run" data-run="([^"]+)" data-validation="([^"]+)">', html)
    assert row == ("bad-run", NOT_LOADED)
    assert html.count('class="result-link"') == 5


def test_runs_that_changed_nothing_are_folded_into_one_line_per_stretch(tmp_path: Path, gx_dir: Path) -> None:
    """Polling every minute, runs that loaded something stay listed: the empty ones between them are one row each."""
    path = tmp_path / "runs.duckdb"
    run = {
        "status": "success",
        "trigger": "airflow",
        "inputs": 3,
        "unchanged": 3,
        "articles_new": 0,
        "articles_updated": 0,
        "articles_same": 0,
        "skipped": 0,
        "quarantined": 0,
    }
    minutes = [(0, 2), (1, 0), (2, 0), (3, 0), (4, 1), (5, 0), (6, 0)]  # (minute, new articles): loads at 0 and 4
    with Store.open(path, PROJECT_ROOT / "schemas") as store, store.transaction():
        store.insert(
            "ingest_runs",
            [
                {
                    **run,
                    "run_id": f"m{minute}",
                    "articles_new": new,
                    "started_at": NOW + timedelta(minutes=minute),
                    "finished_at": NOW + timedelta(minutes=minute, seconds=5),
                }
                for minute, new in minutes
            ],
        )
        store.insert(
            "ingest_runs",
            [{**run, "run_id": "broken", "status": "failed", "error": "boom", "started_at": NOW - timedelta(days=30)}],
        )
    with duckdb.connect(str(path), read_only=True) as con:
        collected = report.collect(con, gx_dir, SUITES_DIR, NOW + timedelta(minutes=10))
    assert [run.run_id for run in collected.runs] == ["broken", "m4", "m0"]
    assert [(s.runs, s.first_at, s.last_at) for s in collected.idle] == [
        (2, NOW + timedelta(minutes=5), NOW + timedelta(minutes=6)),
        (3, NOW + timedelta(minutes=1), NOW + timedelta(minutes=3)),
    ]
    html = render_page(collected, site_dir(gx_dir), lambda result: result_page(gx_dir, result), "db")
    rows = re.findall(r'<tr class="run" data-run="([^"]+)"|<tr class="idle"><td[^>]*>([^<]+)</td>', html)
    listed = [run_id or " ".join(idle.split()) for run_id, idle in rows]
    assert [row for row in listed if row != "bad-run"] == [  # bad-run: the stored results' batch validation stopped
        "broken",  # failed first, however old
        "2 runs, nothing new, 2026-11-20 12:05 UTC – 2026-11-20 12:06 UTC",
        "m4",
        "3 runs, nothing new, 2026-11-20 12:01 UTC – 2026-11-20 12:03 UTC",
        "m0",
    ]


EVIL = "HTML page (<!--<script>alert(1)</script>) & </svg>"


def _svgs(html: str) -> list[ElementTree.Element]:
    """Every plot's SVG, parsed as XML: a name or reason that broke out of its text would not parse."""
    return [ElementTree.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)]


def test_server_chosen_text_stays_text_in_the_page_and_its_plots(db: Path, gx_dir: Path) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        collected = report.collect(con, gx_dir, SUITES_DIR, NOW)
    day = NOW.date()
    evil = dataclasses.replace(
        collected,
        volume=[report.SourceVolume(day, EVIL, 3)],
        daily_refusals=[report.DailyRefusals(day, EVIL, 2)],
        refusals=[report.RefusalReason("read", EVIL, 2, NOW, NOW, [report.RefusalExample(EVIL, EVIL, EVIL, EVIL)])],
    )
    html = render_page(evil, site_dir(gx_dir), lambda path: result_page(gx_dir, path), "db")
    assert html.count("<script") == 1 and "<!--" not in html  # only the page's own script; no comment opened
    svgs = _svgs(html)
    assert len(svgs) == len(trend_plots(evil)) + 1  # every plot drawn, the refusals' included
    titles = [title.text for svg in svgs for title in svg.iter("title")]
    assert f"{EVIL}, {day:%Y-%m-%d}: 3" in titles and f"{EVIL}, {day:%Y-%m-%d}: 2" in titles
    assert str(escape(EVIL)) in html


def _labels(svg: str, axis: str) -> list[str]:
    (group,) = ElementTree.fromstring(svg).iterfind(f"g[@class='axis {axis}']")
    return [text.text or "" for text in group.iter("text") if text.get("class") != "title"]


def _find(parent: ElementTree.Element, path: str) -> ElementTree.Element:
    """The first element at `path` under `parent`; none there fails the test."""
    found = parent.find(path)
    assert found is not None, f"no {path} in {parent.tag}"
    return found


def _text(parent: ElementTree.Element, path: str) -> str:
    """The text of the first element at `path` under `parent`; no element, or one without text, fails the test."""
    text = _find(parent, path).text
    assert text is not None, f"{path} in {parent.tag} has no text"
    return text


def _series_fills(svg: str) -> dict[str, str | None]:
    """The colour each series is drawn in, by the name its points' tooltips give."""
    return {
        _text(group, "circle/title").rsplit(", ", 1)[0]: group.get("fill")
        for group in ElementTree.fromstring(svg).iterfind("g[@class='series']")
    }


def _legend(svg: str) -> list[tuple[str | None, str | None]]:
    """(series name, colour) in the legend's order."""
    group = next(ElementTree.fromstring(svg).iterfind("g[@class='legend']"), None)
    if group is None:
        return []
    fills = [rect.get("fill") for rect in group.iter("rect")]
    names = [_find(text, "title").text for text in group.iter("text")]
    return list(zip(names, fills, strict=True))


def test_equal_values_of_two_series_stay_visible_and_colours_follow_the_name() -> None:
    day = NOW.date()
    series = {"wire": [charts.Point(day, 5)], "agency": [charts.Point(day, 5)], "blog": [charts.Point(day, 5)]}
    colors = charts.series_colors(["wire", "agency", "blog", "other", "zeta"], last="other")
    svg = ElementTree.fromstring(charts.line_chart(series, charts.COUNT, "n", daily=True, colors=colors))
    points = [(float(c.attrib["cx"]), float(c.attrib["cy"])) for c in svg.iter("circle")]
    assert len({y for _, y in points}) == 1 and len({x for x, _ in points}) == 3  # side by side, not one on another
    assert max(x for x, _ in points) - min(x for x, _ in points) <= 3 * charts.POINT_RADIUS
    assert list(colors) == ["agency", "blog", "wire", "zeta", "other"]
    only_two = charts.line_chart(
        {"wire": series["wire"], "blog": series["blog"]}, charts.COUNT, "n", daily=True, colors=colors
    )
    assert _legend(only_two) == [("blog", colors["blog"]), ("wire", colors["wire"])]  # the same colour without agency


def test_axes_read_as_dates_and_never_repeat_a_label() -> None:
    moments = [
        datetime(2026, 11, 20, 10, 0, 0, 100_000, tzinfo=UTC),
        datetime(2026, 11, 20, 10, 0, 0, 900_000, tzinfo=UTC),
    ]
    svg = charts.line_chart(
        {"wire": [charts.Point(moment, n + 1) for n, moment in enumerate(moments)]},
        charts.COUNT,
        "articles",
        daily=False,
    )
    times = _labels(svg, "x")
    assert times and all(re.fullmatch(r"\d\d-\d\d \d\d:\d\d", label) for label in times), times  # not ".800"
    counts = _labels(svg, "y")
    assert counts == ["0", "1", "2"]  # a count of 2 at most: whole ticks only, none repeated
    shares = _labels(
        charts.line_chart({"s": [charts.Point(NOW.date(), 0.004)]}, charts.SHARE, "share", daily=True), "y"
    )
    assert len(set(shares)) == len(shares) > 2 and shares[-1].endswith("%"), shares
    days = _labels(
        charts.bar_chart({"a": {NOW.date() - timedelta(days=n): n + 1 for n in range(40)}}, charts.COUNT, "n"), "x"
    )
    assert len(days) <= charts.X_TICKS + 1 and all(re.fullmatch(r"\d{4}-\d\d-\d\d", label) for label in days)


def test_a_page_that_cannot_be_written_does_not_fail_the_load(
    tmp_path: Path, seeds_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gx = project_copy(tmp_path)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(sorted(seeds_dir.glob("*.txt"))[0], seeds)
    settings = Settings(
        db_path=tmp_path / "news.duckdb",
        writer_db_path=tmp_path / ".writer" / "news.duckdb",
        seeds_dir=seeds,
        staging_dir=tmp_path / "staging",
        feeds_file=tmp_path / "none.yaml",
        schemas_dir=tmp_path / "schemas",
        gx_dir=gx,
        workers=1,
    )
    quality_page_path(settings).mkdir(parents=True)  # a folder where the page goes: writing it fails
    with caplog.at_level(logging.WARNING, logger="pipelines.reporting.refresh"):
        counts = ingest_folder(settings, trigger="test")
    assert counts.articles_new == 1
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        assert con.execute("SELECT status FROM ingest_runs").fetchall() == [("success",)]
    (warning,) = [record for record in caplog.records if record.name == "pipelines.reporting.refresh"]
    assert "not refreshed" in warning.getMessage() and "IsADirectoryError" in warning.getMessage()
    quality_page_path(settings).rmdir()  # once it can be written, the next refresh writes it
    assert refresh_quality_page(settings) == quality_page_path(settings) and quality_page_path(settings).is_file()
