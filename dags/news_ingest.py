"""news_ingest: the seed folder flows into DuckDB.

stage  - read every file in the seed folder, normalize it, and stage the batch as Parquet (no database)
load   - the single DuckDB writer (pool `duckdb`, one slot) loads the stage in one transaction

Settings come from the environment (NEWSFLOW_SEEDS_DIR, NEWSFLOW_DB, NEWSFLOW_STAGING_DIR); see README.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task

ARTICLES = Asset(name="newsflow_articles", uri="file:///newsflow/articles")
DUCKDB_POOL = "duckdb"


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
    def stage() -> str:
        from pipelines.config import Settings
        from pipelines.pipeline import stage_folder

        batch = stage_folder(Settings.from_env(), get_current_context()["run_id"], trigger="airflow")
        return str(batch.path)

    @task(pool=DUCKDB_POOL, outlets=[ARTICLES])
    def load(stage_path: str) -> dict[str, object]:
        from pathlib import Path

        from pipelines.config import Settings
        from pipelines.pipeline import load_stage

        counts = load_stage(Settings.from_env(), Path(stage_path)).as_dict()
        get_current_context()["outlet_events"][ARTICLES].extra = counts
        return counts

    load(stage())


news_ingest_dag = news_ingest()
