-- Named entities resolved across spellings, their mentions, and quotes attributed to them.
-- Offsets are 0-based Python string indices into articles.body_text.

ALTER TABLE articles ADD COLUMN nlp_skip_reason VARCHAR;  -- why an article got no entities/quotes (e.g. its language)

CREATE TABLE entities (
    entity_id   VARCHAR PRIMARY KEY,       -- derived from the type family and a normalized name key
    name        VARCHAR NOT NULL,          -- canonical (longest full) form
    type        VARCHAR NOT NULL,          -- PERSON | ORG | GPE | LOC | NORP | EVENT | ...
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE entity_aliases (
    entity_id   VARCHAR NOT NULL,
    alias       VARCHAR NOT NULL,          -- every surface form seen
    PRIMARY KEY (entity_id, alias)
);

CREATE TABLE entity_mentions (
    article_id      VARCHAR NOT NULL,
    entity_id       VARCHAR NOT NULL,
    mention_text    VARCHAR NOT NULL,      -- == body_text[start_char:end_char]
    start_char      INTEGER NOT NULL,
    end_char        INTEGER NOT NULL,
    sentence_index  INTEGER NOT NULL,
    label           VARCHAR NOT NULL,      -- spaCy's label for this occurrence; entities.type is the vote
    PRIMARY KEY (article_id, start_char, end_char)
);
CREATE INDEX entity_mentions_by_entity ON entity_mentions (entity_id);

CREATE TABLE quotes (
    quote_id           VARCHAR PRIMARY KEY,
    article_id         VARCHAR NOT NULL,
    quote_text         VARCHAR NOT NULL,   -- == body_text[start_char:end_char], quote marks excluded
    start_char         INTEGER NOT NULL,
    end_char           INTEGER NOT NULL,
    speaker_text       VARCHAR,
    speaker_start      INTEGER,
    speaker_end        INTEGER,
    speaker_entity_id  VARCHAR,            -- entities.entity_id; NULL when the speaker is unresolved
    cue                VARCHAR,            -- the reporting verb or phrase ("said", "according to")
    kind               VARCHAR NOT NULL,   -- 'direct' | 'partial'
    confidence         DOUBLE NOT NULL,    -- 0..1
    method             VARCHAR NOT NULL
);
CREATE INDEX quotes_by_article ON quotes (article_id);
CREATE INDEX quotes_by_speaker ON quotes (speaker_entity_id);
