"""feed_ingest: new articles from the feeds in feeds.yaml, every NEWSFLOW_POLL_MINUTES (default 5).

plan  - the enabled feeds due at the run's tick, in at most NEWSFLOW_POLL_TASKS groups (default 1), a
        site's feeds in one group (state from the published snapshot and the feed state saved beside it)
poll  - one mapped task per group, not per feed (each task instance costs about a second of hand-offs):
        one round reads the group's feeds at once (NEWSFLOW_FETCH_CONCURRENCY requests in flight, each
        site's manners kept), parses their new pages while others are fetched, and stages the batch as
        Parquet (no database access; runs on any worker). Its log has a line per feed
validate - the batch against the expectation suites (Great Expectations) before anything loads
load  - the single DuckDB writer (pool `duckdb`) loads every group's stage in one transaction; it publishes
        the read-only copy, and emits the newsflow_articles Asset, only when articles changed. A failed
        load is retried from the stages, nothing is refetched
record_failure - only when a task failed: the run's ingest_runs row says what failed (and the quality page)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task
from newsflow_common import load, noted, record_failure, validate

from pipelines.config import poll_minutes_from_env

POLL_MINUTES = poll_minutes_from_env()


@dag(
    schedule=timedelta(minutes=POLL_MINUTES),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["newsflow"],
    doc_md=__doc__,
)
def feed_ingest() -> None:
    @task
    def plan() -> list[list[dict[str, Any]]]:
        from dataclasses import asdict

        from pipelines.config import Settings
        from pipelines.pipeline import plan_polls

        with noted("plan"):  # a broken feeds.yaml fails here
            return [[asdict(feed) for feed in group] for group in plan_polls(Settings.from_env(), now=tick())]

    @task(retries=1, retry_delay=timedelta(seconds=30), map_index_template="{{ feeds_in_group }}")
    def poll(feeds: list[dict[str, Any]]) -> str:
        from pipelines.config import Settings
        from pipelines.pipeline import stage_feeds
        from pipelines.sources.feed_config import FeedConfig

        context = get_current_context()
        context["feeds_in_group"] = f"{len(feeds)} feeds"  # type: ignore[typeddict-unknown-key]  # the UI's label
        group = context["ti"].map_index
        assert group is not None, "poll is a mapped task: each of its instances has a map index"
        with noted("poll"):
            batch = stage_feeds(
                Settings.from_env(),
                [FeedConfig(**feed) for feed in feeds],
                context["run_id"],
                trigger="airflow",
                scheduled_at=tick(),
                group=group,
            )
        return str(batch.path)

    stages = poll.expand(feeds=plan())
    load(validate(stages)) >> record_failure()  # type: ignore[arg-type]  # Airflow's Task.__call__ rejects an XComArg


def tick() -> datetime:
    """The schedule's tick this run is for: feeds are due, and next due, against it, so N minutes mean N minutes."""
    context = get_current_context()
    return context.get("data_interval_end") or context["dag_run"].run_after


feed_ingest_dag = feed_ingest()
