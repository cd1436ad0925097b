-- Data quality: each run's validation outcome, and the per-source volumes the next batch is checked against.

ALTER TABLE ingest_runs ADD COLUMN validation_success BOOLEAN;   -- every expectation passed
ALTER TABLE ingest_runs ADD COLUMN validated_rows INTEGER;       -- article rows validated
ALTER TABLE ingest_runs ADD COLUMN rejected_rows INTEGER;        -- rows moved to quarantine by validation
ALTER TABLE ingest_runs ADD COLUMN quality_docs VARCHAR;         -- the Data Docs index (newsflow docs)
ALTER TABLE ingest_runs ADD COLUMN quality_pages VARCHAR;        -- JSON: suite -> this run's result page

CREATE TABLE run_source_counts (
    run_id     VARCHAR NOT NULL,
    source_id  VARCHAR NOT NULL,
    articles   INTEGER NOT NULL,                -- articles staged for the source in the run
    loaded_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, source_id)
);
