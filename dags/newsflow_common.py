"""What the newsflow DAGs share: the articles Asset, the writer's pool, and the validate and load tasks.

Both DAGs end the same way: the staged batch is validated, then the single DuckDB writer loads it; when any
task failed, `record_failure` records the failed run with the errors its steps noted.
The load announces new articles through an alias, so a load that changed none (every feed answered 304)
emits no `newsflow_articles` event and a DAG scheduled on it does not run for nothing.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta

from airflow.sdk import Asset, AssetAlias, TriggerRule, get_current_context, task

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
    with noted("validate"):
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


@task(pool=DUCKDB_POOL, trigger_rule=TriggerRule.ONE_FAILED)
def record_failure() -> None:
    """Only when a task of the run failed: its `ingest_runs` row (status failed, the errors its steps noted), published
    and on the data-quality page (a failed load has recorded its own). Then it fails itself, with that error: the
    run's state follows its last task, and a failed run must stay red."""
    from datetime import UTC, datetime

    from airflow.sdk.exceptions import AirflowFailException

    from pipelines.config import Settings
    from pipelines.pipeline import record_failed_run

    context = get_current_context()
    error = record_failed_run(
        Settings.from_env(), context["run_id"], "airflow", context["dag_run"].start_date or datetime.now(UTC)
    )
    raise AirflowFailException(f"the run failed and is recorded as failed: {error}")


def noted(step: str) -> AbstractContextManager[None]:
    """Run a step of this run so that its failure is noted for `record_failure`."""
    from pipelines.config import Settings
    from pipelines.pipeline import noting_failure

    return noting_failure(Settings.from_env(), get_current_context()["run_id"], step)
