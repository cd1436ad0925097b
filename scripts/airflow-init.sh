#!/usr/bin/env bash
# Prepare an Airflow metadata database for newsflow: migrations, then the `duckdb` pool (one slot,
# the single DuckDB writer). Idempotent. Used by `make run`, the tests and docker-compose's airflow-init.
set -euo pipefail
airflow db migrate >/dev/null
airflow pools set duckdb 1 "newsflow: the single DuckDB writer" >/dev/null
