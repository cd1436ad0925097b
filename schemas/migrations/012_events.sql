-- Events above stories (issue 29): a story is one text and its copies; an event is every story that reports
-- the same real-world happening, however each outlet wrote it (pipelines/events/grouping.py decides).

-- The salient terms of every input of an article (its body changed or not), weighted and unit length
-- (pipelines/nlp/terms.py): what two articles are compared on, and when and where each input was seen.
-- Copies keep theirs, so an event never loses what joined it.
CREATE TABLE article_terms (
    article_id  VARCHAR NOT NULL,
    raw_id      VARCHAR NOT NULL,
    seen_at     TIMESTAMPTZ NOT NULL,        -- published_at, else the fetch time (as article_signatures)
    terms       VARCHAR[] NOT NULL,          -- heaviest first; names keep their case, other words are lowercase
    weights     DOUBLE[] NOT NULL,
    specifics   VARCHAR[] NOT NULL,          -- its rare words among them (names, places), lowercase
    principal   VARCHAR,                     -- the person it names most often (twice or more, more than any other)
    people      VARCHAR[] NOT NULL,          -- the last word of every person it names, lowercase
    _segment    BIGINT,
    PRIMARY KEY (article_id, raw_id)
);

-- Each version's heaviest terms by the day it was seen: an arriving article finds the articles it may join
-- with one join over the days of its time window, never a scan of history.
CREATE TABLE event_keys (
    term_hash   UBIGINT NOT NULL,
    day         INTEGER NOT NULL,             -- days since 0001-01-01 (Python's date.toordinal), UTC
    article_id  VARCHAR NOT NULL,
    _segment    BIGINT
);
CREATE INDEX event_keys_by_term ON event_keys (term_hash, day);

-- Every article (copies included) and the event it belongs to now.
CREATE TABLE article_events (
    article_id  VARCHAR PRIMARY KEY,
    event_id    VARCHAR NOT NULL,            -- the article seen first in the event
    _segment    BIGINT
);
CREATE INDEX article_events_by_event ON article_events (event_id);

CREATE TABLE events (
    event_id       VARCHAR PRIMARY KEY,
    label          VARCHAR NOT NULL,         -- its heaviest terms, summed over its articles' inputs
    first_seen_at  TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    story_count    INTEGER NOT NULL,
    article_count  INTEGER NOT NULL,
    outlet_count   INTEGER NOT NULL,         -- distinct sources (sources.name) of its articles
    _segment       BIGINT
);

-- The parameters stored terms and groupings were made with (pipelines.config.EventConfig.key).
CREATE TABLE event_state (
    params_key  VARCHAR NOT NULL
);

-- Articles stored before events existed have no terms (no parse is kept): each version gets a row without
-- terms, so it keeps its time and outlet, and each of their stories starts as its own event. Later reports
-- join them only through their copies; reloading their inputs would group them as new ones are.
INSERT INTO article_terms (article_id, raw_id, seen_at, terms, weights, specifics, principal, people)
SELECT article_id, raw_id, seen_at, [], [], [], NULL, [] FROM article_signatures;
INSERT INTO article_events (article_id, event_id) SELECT article_id, story_id FROM article_stories;
INSERT INTO events
SELECT
    st.story_id,
    coalesce(any_value(a.title), st.story_id),
    min(t.seen_at),
    max(t.seen_at),
    1,
    count(DISTINCT st.article_id),
    count(DISTINCT src.name),
    NULL
FROM article_stories st
JOIN article_terms t USING (article_id)
JOIN raw_documents r ON r.raw_id = t.raw_id
JOIN sources src ON src.source_id = r.source_id
LEFT JOIN articles a ON a.article_id = st.story_id
GROUP BY st.story_id;
