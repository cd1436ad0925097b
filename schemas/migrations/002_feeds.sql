-- Feed polling: per-feed state, a log of every fetch, and every feed item ever seen.

CREATE TABLE feed_state (
    source_id            VARCHAR PRIMARY KEY,
    url                  VARCHAR NOT NULL,
    name                 VARCHAR NOT NULL,
    etag                 VARCHAR,
    last_modified        VARCHAR,
    last_body_hash       VARCHAR,           -- sha256 of the last feed body fully processed
    last_polled_at       TIMESTAMPTZ,
    next_poll_at         TIMESTAMPTZ,
    consecutive_failures INTEGER NOT NULL,
    last_status          INTEGER,           -- HTTP status of the last poll
    last_outcome         VARCHAR,           -- ok | not_modified | unchanged | http_error | timeout | ...
    last_error           VARCHAR,
    last_success_at      TIMESTAMPTZ
);

-- One row per HTTP request the pipeline made (feeds and article pages).
CREATE TABLE fetch_events (
    event_id    VARCHAR PRIMARY KEY,
    run_id      VARCHAR NOT NULL,
    source_id   VARCHAR NOT NULL,
    url         VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,               -- 'feed' | 'page'
    "at"        TIMESTAMPTZ NOT NULL,          -- a keyword in DuckDB: quote it in queries
    http_status INTEGER,
    outcome     VARCHAR NOT NULL,
    bytes       BIGINT,
    elapsed_ms  INTEGER,
    note        VARCHAR
);

-- Every item seen in a feed, once: how it was accounted for the first time it was seen.
CREATE TABLE feed_items (
    source_id      VARCHAR NOT NULL,
    item_key       VARCHAR NOT NULL,            -- the GUID, else the canonical link
    guid           VARCHAR,
    url            VARCHAR,                     -- canonical URL of the item's link
    article_id     VARCHAR,
    outcome        VARCHAR NOT NULL,            -- loaded | quarantined
    reason         VARCHAR,
    first_seen_at  TIMESTAMPTZ NOT NULL,
    run_id         VARCHAR NOT NULL,
    PRIMARY KEY (source_id, item_key)
);
CREATE INDEX feed_items_by_url ON feed_items (url);

ALTER TABLE ingest_runs ADD COLUMN feeds_polled INTEGER;
ALTER TABLE ingest_runs ADD COLUMN feeds_failed INTEGER;
ALTER TABLE ingest_runs ADD COLUMN items_seen INTEGER;
ALTER TABLE ingest_runs ADD COLUMN items_already_seen INTEGER;
ALTER TABLE ingest_runs ADD COLUMN pages_fetched INTEGER;
