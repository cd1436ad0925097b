"""What the newsflow DAGs share: the articles Asset, the writer's pool, and the validate and load tasks.

Both DAGs end the same way: the staged batch is validated, then the single DuckDB writer loads it.
The load announces new articles through an alias, so a load that changed none (every feed answered 304)
emits no `newsflow_articles` event and a DAG scheduled on it does not run for nothing.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, AssetAlias, get_current_context, task

ARTICLES = Asset(name="newsflow_articles", uri="file:///newsflow/articles")
# What the load task declares: an event for ARTICLES only when it adds one (a published load).
ARTICLES_ALIAS = AssetAlias(name="newsflow_articles_published")
# One slot, created by scripts/airflow-init.sh: DuckDB allows a single writing process.
DUCKDB_POOL = "duckdb"


@task
def validate(stage_paths: list[str]) -> list[str]:
    """The expectation suites, before anything loads; a batch-level failure stops the run here."""
    from pathlib import Path

    from pipelines.config import Settings
    from pipelines.pipeline import validate_stages

    # One slice reads every mapped task's path at once; iterating the lazy sequence asks for one item past
    # the end, which the API answers with a 404 that the task's supervisor logs as an error: "XCom not found".
    paths = list(stage_paths[:])
    validate_stages(Settings.from_env(), [Path(path) for path in paths])
    return paths


@task(pool=DUCKDB_POOL, outlets=[ARTICLES_ALIAS], retries=3, retry_delay=timedelta(seconds=20))
def load(stage_paths: list[str]) -> dict[str, object]:
    """The single writer: the stages in one transaction; a retry reads them again, nothing is refetched."""
    from pathlib import Path

    from pipelines.config import Settings
    from pipelines.pipeline import load_stages

    counts = load_stages(Settings.from_env(), [Path(path) for path in stage_paths])
    if counts.published:
        get_current_context()["outlet_events"][ARTICLES_ALIAS].add(ARTICLES, extra=counts.as_dict())
    return counts.as_dict()
