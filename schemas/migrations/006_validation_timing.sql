-- How long each run's validation took, and whether its process had to import Great Expectations
-- (a worker that preloads GX, see plugins/airflow_local_settings.py, saves that import per task).

ALTER TABLE ingest_runs ADD COLUMN validation_seconds DOUBLE;
ALTER TABLE ingest_runs ADD COLUMN validation_cold_start BOOLEAN;
