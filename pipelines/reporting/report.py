"""What the data-quality page shows, aggregated in SQL on the published snapshot: runs, refusals, feeds, trends, suites.

Every function here takes an open read-only DuckDB connection (the caller opens the snapshot) and returns
typed rows small enough for a page, whatever the size of the history: counting happens in DuckDB, never in
Python or in the browser. The suites' pass rates come from `suite_rates`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.quality.verdict import (
    BATCH_SUITE,
    EXPECTED_RANGE,
    HISTORY_BATCHES,
    VALIDATE_STAGE,
)
from pipelines.reporting.feed_report import FeedRow, feeds
from pipelines.reporting.suite_rates import (
    RUNS_SHOWN,
    SuiteBound,
    SuiteReport,
    ValidatedRun,
    load_suites,
    suite_reports,
    suite_threshold,
    validated_runs,
)

TOP_REASONS = 8  # refusal reasons listed with examples; the rest are "other" in the plot
EXAMPLES_PER_REASON = 3
TOP_SOURCES = 8  # sources drawn by name in the volume plots; the rest are summed as OTHER
OTHER = "other"
TREND_DAYS = 90
DETAIL_CHARS = 400
# A reason with its numbers masked: "line 12: …" and "line 40: …" are one reason.
REASON_KEY = "regexp_replace(reason, '[0-9]+', '#', 'g')"


def utc_day(column: str) -> str:
    """A TIMESTAMPTZ column's calendar day in UTC, whatever the session's time zone."""
    return f"CAST(timezone('UTC', {column}) AS DATE)"


# --- runs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    trigger: str | None
    status: str
    started_at: datetime
    seconds: float | None  # stage start to load end
    validation_seconds: float | None
    inputs: int | None
    unchanged: int | None
    loaded: int | None  # new articles
    updated: int | None
    duplicates: int
    skipped: int | None
    quarantined: int | None
    validation_success: bool | None
    error: str | None
    pages: dict[str, str]  # suite -> its result page (absolute path)

    @property
    def stage_and_load_seconds(self) -> float | None:
        """Reading, extracting, parsing and loading: the run's time less validation."""
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - (self.validation_seconds or 0.0))


# A run that changed nothing (every input seen before, a feed's 304): with polling every minute these would push
# every run that loaded something off the list within minutes, so they are folded into one line per stretch.
_CHANGED = (
    "(r.status <> 'success' OR coalesce(r.articles_new, 0) + coalesce(r.articles_updated, 0)"
    " + coalesce(r.quarantined, 0) + coalesce(r.skipped, 0) + coalesce(d.duplicates, 0) > 0)"
)
_RUNS_WITH_DUPLICATES = """
FROM ingest_runs r
LEFT JOIN (SELECT run_id, count(*) AS duplicates FROM article_duplicates GROUP BY run_id) d USING (run_id)
"""
RUNS_SQL = f"""
WITH runs AS (SELECT r.*, coalesce(d.duplicates, 0) AS duplicates, {_CHANGED} AS changed {_RUNS_WITH_DUPLICATES})
SELECT run_id, trigger, status, started_at,
       date_diff('millisecond', started_at, finished_at) / 1000.0 AS seconds, validation_seconds,
       inputs, unchanged, articles_new, articles_updated, duplicates,
       skipped, quarantined, validation_success, error, quality_pages
FROM runs
WHERE run_id IN (SELECT run_id FROM runs WHERE changed ORDER BY started_at DESC, run_id DESC LIMIT ?)
   OR run_id IN (SELECT run_id FROM runs WHERE status <> 'success' ORDER BY started_at DESC, run_id DESC LIMIT ?)
ORDER BY status = 'success', started_at DESC, run_id DESC
"""
# The runs that changed nothing since `?` (the oldest run listed), one row per stretch between listed runs.
IDLE_SQL = f"""
WITH runs AS (
    SELECT r.run_id, r.started_at, {_CHANGED} AS changed,
           count(*) FILTER (WHERE {_CHANGED}) OVER (ORDER BY r.started_at DESC, r.run_id DESC) AS stretch
    {_RUNS_WITH_DUPLICATES}
    WHERE r.started_at >= ?)
SELECT count(*), min(started_at), max(started_at) FROM runs WHERE NOT changed
GROUP BY stretch ORDER BY max(started_at) DESC
"""


@dataclass(frozen=True, slots=True)
class IdleStretch:
    """Consecutive runs that changed nothing (`runs` of them, started from `first_at` to `last_at`)."""

    runs: int
    first_at: datetime
    last_at: datetime


def recent_runs(con: duckdb.DuckDBPyConnection, limit: int = RUNS_SHOWN) -> list[RunRow]:
    """The last `limit` runs that changed something, and the last `limit` that failed however long ago: failed
    first, newest first."""
    rows = con.execute(RUNS_SQL, [limit, limit]).fetchall()
    names = [column.name for column in fields(RunRow)]  # the query's columns, in order; its last is `pages`, as JSON
    return [
        RunRow(**dict(zip(names, [*row[:-1], json.loads(row[-1]) if row[-1] else {}], strict=True))) for row in rows
    ]


def idle_stretches(con: duckdb.DuckDBPyConnection, runs: Iterable[RunRow]) -> list[IdleStretch]:
    """The runs since the oldest of `runs` (all of them when none is listed) that changed nothing, by stretch."""
    since = min((run.started_at for run in runs if run.status == "success"), default=datetime(1970, 1, 1, tzinfo=UTC))
    return [IdleStretch(*row) for row in con.execute(IDLE_SQL, [since]).fetchall()]


# --- refusals --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefusalExample:
    source: str | None
    uri: str
    reason: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class RefusalReason:
    stage: str
    reason: str  # the newest wording of the reason
    refused: int
    first_at: datetime
    last_at: datetime
    examples: list[RefusalExample] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DailyRefusals:
    day: date
    reason: str  # "stage: reason" for the top reasons, else OTHER
    refused: int


REFUSED_ROWS = f"""
refused AS (
    SELECT q.quarantine_id, q.stage, q.reason, left(q.detail, {DETAIL_CHARS}) AS detail, q.created_at,
           {REASON_KEY.replace("reason", "q.reason")} AS reason_key,
           coalesce(s.name, r.source_id) AS source,
           coalesce(r.uri, q.table_name || ':' || q.record_id) AS uri
    FROM quarantine q
    LEFT JOIN raw_documents r ON r.raw_id = q.raw_id
    LEFT JOIN sources s ON s.source_id = r.source_id
),
reasons AS (
    SELECT stage, reason_key, count(*) AS refused, min(created_at) AS first_at, max(created_at) AS last_at,
           arg_max(reason, (created_at, reason)) AS label,
           row_number() OVER (ORDER BY count(*) DESC, stage, reason_key) AS rank
    FROM refused GROUP BY stage, reason_key
)"""

TOP_REASONS_SQL = f"""
WITH {REFUSED_ROWS},
examples AS (
    SELECT stage, reason_key, source, uri, reason, detail,
           row_number() OVER (PARTITION BY stage, reason_key ORDER BY created_at DESC, quarantine_id) AS n
    FROM refused
)
SELECT g.rank, g.stage, g.label, g.refused, g.first_at, g.last_at, e.source, e.uri, e.reason, e.detail
FROM reasons g JOIN examples e USING (stage, reason_key)
WHERE g.rank <= ? AND e.n <= ?
ORDER BY g.rank, e.n
"""

DAILY_REFUSALS_SQL = f"""
WITH {REFUSED_ROWS}
SELECT {utc_day("r.created_at")} AS day,
       CASE WHEN g.rank <= ? THEN g.stage || ': ' || g.label ELSE '{OTHER}' END AS reason, count(*) AS refused
FROM refused r JOIN reasons g USING (stage, reason_key)
WHERE r.created_at >= ?
GROUP BY ALL ORDER BY day, reason
"""


def top_refusals(con: duckdb.DuckDBPyConnection, limit: int = TOP_REASONS) -> list[RefusalReason]:
    """The most frequent refusal reasons (numbers in a reason do not split it), each with its newest examples."""
    reasons: dict[int, RefusalReason] = {}
    for rank, stage, label, refused, first_at, last_at, *example in con.execute(
        TOP_REASONS_SQL, [limit, EXAMPLES_PER_REASON]
    ).fetchall():
        group = reasons.setdefault(rank, RefusalReason(stage, label, refused, first_at, last_at))
        group.examples.append(RefusalExample(*example))
    return list(reasons.values())


def daily_refusals(con: duckdb.DuckDBPyConnection, since: datetime, top: int = TOP_REASONS) -> list[DailyRefusals]:
    return [DailyRefusals(*row) for row in con.execute(DAILY_REFUSALS_SQL, [top, since]).fetchall()]


# --- trends ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceVolume:
    day: date
    source: str
    articles: int


@dataclass(frozen=True, slots=True)
class RunVolume:
    """A source's articles in one loaded batch, against the range the batch suite expected from its history, and
    how many of them validation quarantined (the batch suite's `rejected_share` is rejected / articles)."""

    loaded_at: datetime
    source: str
    articles: int
    rejected: int
    expected_min: float | None
    expected_max: float | None


@dataclass(frozen=True, slots=True)
class DailyStats:
    day: date
    articles: int
    duplicates: int
    duplicate_share: float | None
    inputs: int
    quarantined_inputs: int
    quarantine_share: float | None
    words_per_article: float | None
    entities_per_article: float | None
    quotes_per_article: float | None


SOURCE_NAMES = """
named AS (
    SELECT a.source_id, coalesce(s.name, a.source_id) AS name,
           row_number() OVER (ORDER BY count(*) DESC, coalesce(s.name, a.source_id)) <= ? AS shown
    FROM articles a LEFT JOIN sources s USING (source_id) WHERE a.first_seen_at >= ? GROUP BY a.source_id, s.name
)"""

VOLUME_SQL = f"""
WITH {SOURCE_NAMES}
SELECT {utc_day("a.first_seen_at")} AS day, CASE WHEN n.shown THEN n.name ELSE '{OTHER}' END AS source, count(*)
FROM articles a JOIN named n USING (source_id)
WHERE a.first_seen_at >= ?
GROUP BY ALL ORDER BY day, source
"""

RUN_VOLUME_SQL = f"""
WITH rejected AS (  -- articles validation quarantined, per batch and source (as the batch suite counts them)
    SELECT q.run_id, r.source_id, count(DISTINCT q.record_id) AS rejected
    FROM quarantine q JOIN raw_documents r USING (raw_id)
    WHERE q.stage = '{VALIDATE_STAGE}' AND q.table_name = 'articles' GROUP BY ALL
),
history AS (
    SELECT c.run_id, c.loaded_at, c.source_id, c.articles,
           median(c.articles) OVER recent AS median, count(*) OVER recent AS batches
    FROM run_source_counts c
    WINDOW recent AS (PARTITION BY c.source_id ORDER BY c.loaded_at, c.run_id
                      ROWS BETWEEN {HISTORY_BATCHES} PRECEDING AND 1 PRECEDING)
),
ranked AS (
    SELECT source_id, row_number() OVER (ORDER BY sum(articles) DESC, source_id) <= ? AS shown
    FROM history WHERE loaded_at >= ? GROUP BY source_id
)
SELECT h.loaded_at, coalesce(s.name, h.source_id), h.articles, coalesce(j.rejected, 0),
       CASE WHEN h.batches >= ? THEN floor(? * h.median) END AS expected_min,
       CASE WHEN h.batches >= ? THEN ceil(? * h.median) + ? END AS expected_max
FROM history h JOIN ranked r USING (source_id) LEFT JOIN sources s USING (source_id)
LEFT JOIN rejected j ON j.run_id = h.run_id AND j.source_id = h.source_id
WHERE r.shown AND h.loaded_at >= ?
ORDER BY h.loaded_at, h.source_id
"""

DAILY_SQL = f"""
WITH fresh AS (SELECT article_id, word_count, {utc_day("first_seen_at")} AS day FROM articles WHERE first_seen_at >= ?),
per_day AS (SELECT day, count(*) AS articles, avg(word_count) AS words FROM fresh GROUP BY day),
-- one article_entities row per entity an article names (its mentions resolved): counted per day, not per article
named AS (SELECT f.day, count(*) AS entities FROM article_entities e JOIN fresh f USING (article_id) GROUP BY f.day),
said AS (SELECT f.day, count(*) AS quotes FROM quotes q JOIN fresh f USING (article_id) GROUP BY f.day),
copies AS (
    SELECT {utc_day("detected_at")} AS day, count(*) AS duplicates FROM article_duplicates WHERE detected_at >= ?
    GROUP BY day
),
inputs AS (
    SELECT {utc_day("fetched_at")} AS day, count(*) AS inputs,
           count(*) FILTER (WHERE status = 'quarantined') AS quarantined
    FROM raw_documents WHERE fetched_at >= ? GROUP BY day
)
SELECT day, coalesce(p.articles, 0), coalesce(c.duplicates, 0), coalesce(i.inputs, 0), coalesce(i.quarantined, 0),
       p.words, coalesce(n.entities, 0) / p.articles, coalesce(q.quotes, 0) / p.articles
FROM per_day p LEFT JOIN named n USING (day) LEFT JOIN said q USING (day)
FULL JOIN copies c USING (day) FULL JOIN inputs i USING (day)
ORDER BY day
"""


def daily_volume(con: duckdb.DuckDBPyConnection, since: datetime, top: int = TOP_SOURCES) -> list[SourceVolume]:
    """Articles first seen per source per day; sources past the `top` busiest are summed as OTHER."""
    return [SourceVolume(*row) for row in con.execute(VOLUME_SQL, [top, since, since]).fetchall()]


def run_volume(
    con: duckdb.DuckDBPyConnection, since: datetime, expected: Mapping[str, float], top: int = TOP_SOURCES
) -> list[RunVolume]:
    """Articles per source per loaded batch, with the range the batch suite's `meta.expected_range` derives
    from the source's previous batches (as the gate computes it at validation time)."""
    minimum = int(expected["min_history_batches"])
    params = [
        top,
        since,
        minimum,
        expected["low_ratio"],
        minimum,
        expected["high_ratio"],
        expected["high_slack"],
        since,
    ]
    return [RunVolume(*row) for row in con.execute(RUN_VOLUME_SQL, params).fetchall()]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def daily_stats(con: duckdb.DuckDBPyConnection, since: datetime) -> list[DailyStats]:
    """Per UTC day: new articles, duplicates found, inputs quarantined, and words, entities and quotes per article."""
    stats = []
    for day, articles, duplicates, inputs, quarantined, words, entities, quotes in con.execute(
        DAILY_SQL, [since, since, since]
    ).fetchall():
        stats.append(
            DailyStats(
                day,
                articles,
                duplicates,
                _share(duplicates, articles + duplicates),
                inputs,
                quarantined,
                _share(quarantined, inputs),
                words,
                entities,
                quotes,
            )
        )
    return stats


# --- the whole report ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Everything the page shows, aggregated; empty lists before the first load."""

    generated_at: datetime
    runs: list[RunRow]
    idle: list[IdleStretch]  # the runs between them that changed nothing
    validations: list[ValidatedRun]
    refusals: list[RefusalReason]
    daily_refusals: list[DailyRefusals]
    feeds: list[FeedRow]
    volume: list[SourceVolume]
    run_volume: list[RunVolume]
    daily: list[DailyStats]
    suites: list[SuiteReport]
    thresholds: dict[str, SuiteBound]  # trend -> the bound a suite sets on it, in the suite's words


# Bounds the suites set on a plotted quantity: trend -> (suite, column, bound).
SUITE_BOUNDS = {"rejected_share": (BATCH_SUITE, "rejected_share", "max_value")}


def collect(
    con: duckdb.DuckDBPyConnection | None,
    context_dir: Path,
    suites_dir: Path,
    now: datetime,
    disabled: Iterable[str] = (),
) -> QualityReport:
    """The report from the published snapshot (None before the first load) and the stored validation results."""
    suites = load_suites(suites_dir)
    validations = validated_runs(context_dir)
    since = now - timedelta(days=TREND_DAYS)
    expected = suites.get(BATCH_SUITE, {}).get("meta", {}).get(EXPECTED_RANGE)
    thresholds = {trend: found for trend, bound in SUITE_BOUNDS.items() if (found := suite_threshold(suites, *bound))}
    runs = recent_runs(con) if con else []
    return QualityReport(
        generated_at=now,
        runs=runs,
        idle=idle_stretches(con, runs) if con else [],
        validations=validations,
        refusals=top_refusals(con) if con else [],
        daily_refusals=daily_refusals(con, since) if con else [],
        feeds=feeds(con, now, disabled) if con else [],
        volume=daily_volume(con, since) if con else [],
        run_volume=run_volume(con, since, expected) if con and expected else [],
        daily=daily_stats(con, since) if con else [],
        suites=suite_reports(suites, validations),
        thresholds=thresholds,
    )
