-- Core tables of newsflow. Analysts query these names; columns may be added by later migrations.
-- Timestamps are UTC (TIMESTAMPTZ). Character offsets anywhere are 0-based Python string indices
-- into articles.body_text.

CREATE TABLE sources (
    source_id   VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,          -- 'folder' | 'feed'
    uri         VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE ingest_runs (
    run_id          VARCHAR PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    status          VARCHAR NOT NULL,      -- 'running' | 'success' | 'failed'
    trigger         VARCHAR,               -- 'cli' | 'airflow' | 'bench' ...
    inputs          INTEGER,               -- files (or feed items) seen
    unchanged       INTEGER,               -- inputs already loaded earlier, byte for byte
    articles_new    INTEGER,
    articles_updated INTEGER,              -- a new version of an existing article
    articles_same   INTEGER,               -- re-read, same content: nothing written
    skipped         INTEGER,
    quarantined     INTEGER,
    error           VARCHAR
);

-- Provenance of every input, accepted or not. raw_id is derived from (source, uri, content hash):
-- an unchanged file maps to the same row, an edited one to a new row.
CREATE TABLE raw_documents (
    raw_id          VARCHAR PRIMARY KEY,
    source_id       VARCHAR NOT NULL,
    uri             VARCHAR NOT NULL,
    fetched_at      TIMESTAMPTZ NOT NULL,
    content_sha256  VARCHAR,
    byte_size       BIGINT,
    media_type      VARCHAR,
    status          VARCHAR NOT NULL,      -- 'loaded' | 'skipped' | 'quarantined'
    reason          VARCHAR,
    run_id          VARCHAR NOT NULL
);

-- One row per article: its latest version. article_id is derived from the canonical URL, or from
-- the item's place in its source when there is no URL, so re-runs and edits keep the id.
CREATE TABLE articles (
    article_id          VARCHAR PRIMARY KEY,
    raw_id              VARCHAR NOT NULL,
    source_id           VARCHAR NOT NULL,
    item_key            VARCHAR NOT NULL,
    url                 VARCHAR,
    uri                 VARCHAR NOT NULL,
    title               VARCHAR,
    title_missing       BOOLEAN NOT NULL,
    alt_title           VARCHAR,           -- e.g. the original-language headline of a translation
    alt_title_language  VARCHAR,
    subtitle            VARCHAR,           -- standfirst / deck
    byline              VARCHAR,
    authors             VARCHAR[],
    outlet              VARCHAR,
    published_at        TIMESTAMPTZ,       -- NULL when unknown or implausible (see flags)
    published_at_reported TIMESTAMPTZ,     -- as the input stated it
    dateline_text       VARCHAR,
    dateline_place      VARCHAR,
    dateline_agency     VARCHAR,
    dateline_month      TINYINT,
    dateline_day        TINYINT,
    dateline_year       SMALLINT,          -- NULL when the dateline gives no year: never guessed
    language            VARCHAR,           -- ISO 639-1
    language_confidence DOUBLE,
    languages           VARCHAR[],
    mixed_language      BOOLEAN NOT NULL,
    body_text           VARCHAR NOT NULL,  -- paragraphs joined by a blank line
    word_count          INTEGER NOT NULL,
    content_hash        VARCHAR NOT NULL,
    fetched_at          TIMESTAMPTZ NOT NULL,
    extractor           VARCHAR NOT NULL,
    flags               VARCHAR[] NOT NULL,
    version             INTEGER NOT NULL,
    first_seen_at       TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    run_id              VARCHAR NOT NULL
);

-- Every version of every article, the current one included.
CREATE TABLE article_versions (
    article_id      VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    raw_id          VARCHAR NOT NULL,
    content_hash    VARCHAR NOT NULL,
    title           VARCHAR,
    body_text       VARCHAR NOT NULL,
    loaded_at       TIMESTAMPTZ NOT NULL,
    run_id          VARCHAR NOT NULL,
    PRIMARY KEY (article_id, version)
);

-- Every input (file or item) the pipeline refused, with a reason a person can act on.
CREATE TABLE quarantine (
    quarantine_id   VARCHAR PRIMARY KEY,   -- derived from (raw_id, stage, detail): a re-run adds nothing
    run_id          VARCHAR NOT NULL,
    raw_id          VARCHAR NOT NULL,
    stage           VARCHAR NOT NULL,      -- 'read' | 'parse' | 'extract' | 'normalize' | 'validate' ...
    reason          VARCHAR NOT NULL,
    detail          VARCHAR,
    created_at      TIMESTAMPTZ NOT NULL
);
