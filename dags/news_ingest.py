"""news_ingest: the seed folder flows into DuckDB.

shards - how many mapped `stage` tasks to split the folder into (NEWSFLOW_STAGE_SHARDS, default 2)
stage  - each shard reads its files, normalizes them and stages them as Parquet (no database access,
         so shards run in parallel on any worker)
validate - the batch against the expectation suites in schemas/expectations (Great Expectations):
         failing rows go to quarantine at load, a batch-level failure stops the run here
load   - the single DuckDB writer (pool `duckdb`, one slot) loads all stages in one transaction

Settings come from the environment (NEWSFLOW_SEEDS_DIR, NEWSFLOW_DB, NEWSFLOW_STAGING_DIR); see README.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task
from newsflow_common import load, validate


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
    def shards() -> list[dict[str, int]]:
        from pipelines.config import Settings

        total = Settings.from_env().stage_shards
        return [{"shard": shard, "shards": total} for shard in range(total)]

    @task
    def stage(shard: int, shards: int) -> str:
        from pipelines.config import Settings
        from pipelines.pipeline import stage_folder

        batch = stage_folder(Settings.from_env(), get_current_context()["run_id"], "airflow", shard, shards)
        return str(batch.path)

    load(validate(stage.expand_kwargs(shards())))


news_ingest_dag = news_ingest()
