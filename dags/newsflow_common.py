"""What the newsflow DAGs share: the articles Asset downstream DAGs schedule on, and the writer's pool."""

from __future__ import annotations

from airflow.sdk import Asset

ARTICLES = Asset(name="newsflow_articles", uri="file:///newsflow/articles")
# One slot, created by scripts/airflow-init.sh: DuckDB allows a single writing process.
DUCKDB_POOL = "duckdb"
