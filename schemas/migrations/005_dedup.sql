-- Deduplication: one `articles` row per story, every other copy in `article_duplicates`.
-- A story is the set of articles linked by the same URL, the same normalized body, or a MinHash
-- similarity over the threshold (pipelines/dedup.py); its canonical article is the earliest seen.

-- Every article (copies included) and the story it belongs to now.
CREATE TABLE article_stories (
    article_id  VARCHAR PRIMARY KEY,
    story_id    VARCHAR NOT NULL              -- the canonical article_id; = article_id for a canonical
);
CREATE INDEX article_stories_by_story ON article_stories (story_id);

-- One row per copy: "how many outlets ran this story" is a count here plus one.
CREATE TABLE article_duplicates (
    article_id            VARCHAR NOT NULL,   -- the canonical article (articles.article_id)
    duplicate_article_id  VARCHAR NOT NULL,   -- the copy (its text is in article_versions)
    duplicate_raw_id      VARCHAR NOT NULL,
    url                   VARCHAR,
    source_id             VARCHAR NOT NULL,
    method                VARCHAR NOT NULL,   -- 'exact' | 'minhash'
    similarity            DOUBLE NOT NULL,    -- against the canonical; 1.0 for exact copies
    detected_at           TIMESTAMPTZ NOT NULL,
    run_id                VARCHAR NOT NULL,
    PRIMARY KEY (duplicate_article_id)
);
CREATE INDEX article_duplicates_by_article ON article_duplicates (article_id);

-- Signatures of every body version, so dedup works against all history.
CREATE TABLE article_signatures (
    article_id   VARCHAR NOT NULL,
    raw_id       VARCHAR NOT NULL,
    fingerprint  VARCHAR,                     -- sha256 of the hash-normalized body; NULL when too short
    signature    UBIGINT[],                   -- MinHash values; NULL when too short
    seen_at      TIMESTAMPTZ NOT NULL,        -- published_at, else the fetch time
    source_id    VARCHAR NOT NULL,
    url          VARCHAR,
    PRIMARY KEY (article_id, raw_id)
);
CREATE INDEX article_signatures_by_fingerprint ON article_signatures (fingerprint);

-- LSH bands of every signature: the lookup is one join on band_hash (the band number is mixed in).
CREATE TABLE dedup_bands (
    band_hash   UBIGINT NOT NULL,
    article_id  VARCHAR NOT NULL
);

-- The configuration the stored signatures were made with (pipelines.dedup.DedupConfig.index_key).
CREATE TABLE dedup_state (
    index_key   VARCHAR NOT NULL
);
