"""feed_ingest: new articles from the feeds in feeds.yaml, every NEWSFLOW_POLL_MINUTES (default 5).

plan  - the enabled feeds whose next poll is due at the run's tick (state read from the published snapshot)
poll  - one mapped task per feed: conditional GET, parse, fetch new article pages, extract and
        normalize, then stage the batch as Parquet (no database access; runs on any worker)
validate - the batch against the expectation suites (Great Expectations) before anything loads
load  - the single DuckDB writer (pool `duckdb`) loads every feed's stage in one transaction and
        publishes the read-only copy; a failed load is retried from the stages, nothing is refetched
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task
from newsflow_common import load, validate

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
    def plan() -> list[dict[str, object]]:
        from dataclasses import asdict

        from pipelines.config import Settings
        from pipelines.pipeline import due_feeds

        return [asdict(feed) for feed in due_feeds(Settings.from_env(), now=tick())]

    @task(retries=1, retry_delay=timedelta(seconds=30))
    def poll(feed: dict[str, object]) -> str:
        from pipelines.config import Settings
        from pipelines.pipeline import stage_feed
        from pipelines.sources.feed_config import FeedConfig

        run_id = get_current_context()["run_id"]
        return str(stage_feed(Settings.from_env(), FeedConfig(**feed), run_id, trigger="airflow",
                              scheduled_at=tick()).path)

    load(validate(poll.expand(feed=plan())))


def tick() -> datetime:
    """The schedule's tick this run is for: feeds are due, and next due, against it, so N minutes mean N minutes."""
    context = get_current_context()
    return context.get("data_interval_end") or context["dag_run"].run_after


feed_ingest_dag = feed_ingest()
