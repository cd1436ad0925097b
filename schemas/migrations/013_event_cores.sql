-- Lone reports join events (issue 29): a core is a chain of reports that relate pair by pair (what an event
-- was before); an article alone in its core joins the nearest core of two or more, and an event is a core
-- with the lone articles that joined it (pipelines/events/grouping.py). The writer's bookkeeping: analysts
-- read `article_events` and `events`.

-- Every article (copies included) and the core it belongs to now.
CREATE TABLE article_cores (
    article_id  VARCHAR PRIMARY KEY,
    core_id     VARCHAR NOT NULL             -- the article seen first in the core
);
CREATE INDEX article_cores_by_core ON article_cores (core_id);

CREATE TABLE event_cores (
    core_id        VARCHAR PRIMARY KEY,
    first_seen_at  TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    article_count  INTEGER NOT NULL,
    joins          VARCHAR                   -- a core of one article: the core whose event it joined, if any
);
CREATE INDEX event_cores_by_joins ON event_cores (joins);

-- Events stored before were cores: each is one now, and no lone article has joined another yet. Their
-- parameters key names no join threshold, so a load refuses them until they are rebuilt.
INSERT INTO article_cores (article_id, core_id) SELECT article_id, event_id FROM article_events;
INSERT INTO event_cores (core_id, first_seen_at, last_seen_at, article_count, joins)
SELECT event_id, first_seen_at, last_seen_at, article_count, NULL FROM events;
