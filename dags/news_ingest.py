"""news_ingest: the seed folder flows into DuckDB.

stage  - mapped over NEWSFLOW_STAGE_SHARDS shards (default 1, read when this file is parsed): each reads
         its files, normalizes them and stages them as Parquet with NEWSFLOW_WORKERS processes (default:
         the task's CPUs). No database access, so shards run in parallel on any worker; on one machine a
         single shard already uses every core, and more shards only pay off spread over several Celery
         workers (docker-compose sets 4)
validate - the batch against the expectation suites in schemas/expectations (Great Expectations):
         failing rows go to quarantine at load, a batch-level failure stops the run here
load   - the single DuckDB writer (pool `duckdb`, one slot) loads all stages in one transaction
record_failure - only when a task failed: the run's ingest_runs row says what failed (and the quality page)

Settings come from the environment (NEWSFLOW_SEEDS_DIR, NEWSFLOW_DB, NEWSFLOW_STAGING_DIR); see README.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task
from newsflow_common import load, noted, record_failure, validate

from pipelines.config import stage_shards_from_env

SHARDS = stage_shards_from_env()


@dag(
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["newsflow"],
    doc_md=__doc__,
)
def news_ingest() -> None:
    @task
    def stage(shard: int, shards: int) -> str:
        from pipelines.config import Settings
        from pipelines.pipeline import stage_folder

        with noted("stage"):
            batch = stage_folder(Settings.from_env(), get_current_context()["run_id"], "airflow", shard, shards)
        return str(batch.path)

    stages = stage.partial(shards=SHARDS).expand(shard=list(range(SHARDS)))
    load(validate(stages)) >> record_failure()  # type: ignore[arg-type]  # Airflow's Task.__call__ rejects an XComArg


news_ingest_dag = news_ingest()
