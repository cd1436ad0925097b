-- Publishing in proportion to the change (issue 24): the published data is immutable Parquet segments
-- (data/news.parquet/<table>/), one catalog file of views over them (data/news.duckdb) per publish.

-- Which published segment holds each row: NULL until the row is first published; a replace or an update
-- sets it to -(segment) - 1, "left that segment". The next publish writes those rows into a new segment and
-- rewrites the segments they left, nothing else, found without reading the rest of the table.
ALTER TABLE raw_documents ADD COLUMN _segment BIGINT;
ALTER TABLE articles ADD COLUMN _segment BIGINT;
ALTER TABLE article_versions ADD COLUMN _segment BIGINT;
ALTER TABLE article_duplicates ADD COLUMN _segment BIGINT;
ALTER TABLE article_stories ADD COLUMN _segment BIGINT;
ALTER TABLE article_signatures ADD COLUMN _segment BIGINT;
ALTER TABLE dedup_bands ADD COLUMN _segment BIGINT;
ALTER TABLE quarantine ADD COLUMN _segment BIGINT;
ALTER TABLE ingest_runs ADD COLUMN _segment BIGINT;
ALTER TABLE fetch_events ADD COLUMN _segment BIGINT;
ALTER TABLE feed_items ADD COLUMN _segment BIGINT;
ALTER TABLE run_source_counts ADD COLUMN _segment BIGINT;
ALTER TABLE entities ADD COLUMN _segment BIGINT;
ALTER TABLE entity_aliases ADD COLUMN _segment BIGINT;
ALTER TABLE article_entities ADD COLUMN _segment BIGINT;
ALTER TABLE entity_mentions ADD COLUMN _segment BIGINT;
ALTER TABLE quotes ADD COLUMN _segment BIGINT;
ALTER TABLE source_documents ADD COLUMN _segment BIGINT;

-- The segments the published catalog lists, per table: what the last publish left, in the writer's
-- own transaction, so a publish killed before its catalog is renamed into place is redone from here.
CREATE TABLE published_segments (
    table_name  VARCHAR NOT NULL,
    segment     BIGINT NOT NULL,
    file        VARCHAR NOT NULL,          -- relative to the published folder: <table>/<segment>-<token>.parquet
    row_count   BIGINT NOT NULL,           -- rows the file holds: fewer rows with this segment now = it changed
    bytes       BIGINT NOT NULL,
    columns     VARCHAR NOT NULL,          -- the table's columns when written: a migration rewrites the table
    PRIMARY KEY (table_name, segment)
);
CREATE SEQUENCE published_segment_ids START 1;

-- Segments that lost a row to a delete since the last publish (a deleted row leaves no mark of its own).
CREATE TABLE lost_segments (
    table_name  VARCHAR NOT NULL,
    segment     BIGINT NOT NULL
);
