-- article_overview: every article with its source and date, and how many copies of its story ran where.
-- `articles` keeps one row per story (its canonical, earliest-seen copy); the other copies are rows of
-- `article_duplicates`. An outlet is the source (feed or folder) a copy came from, by `sources.name`.
-- A copy is seen when its input says it appeared: its published time, else the time its first
-- version was fetched (`article_signatures.seen_at`, by which deduplication picks the canonical).
-- Dates are UTC. The other views read this one: views are created in file-name order, so their
-- file names must sort after this one's.
--
-- Columns:
--   article_id           the article (articles.article_id), also the id of its story
--   title                its headline; NULL when the text has none
--   source_name          the source it came from (sources.name): a feed's name or a folder's
--   source_kind          'feed' or 'folder'
--   stated_outlet        the outlet the input names (site name, JSON `source`, dateline agency); NULL when none
--   url                  its canonical URL; NULL for a file without one
--   published_at         when it was published; NULL when unknown
--   fetched_at           when its current version was fetched or read
--   article_date         the UTC date of published_at, else of fetched_at (DATE)
--   language             ISO 639-1 code
--   word_count           words in its body
--   version              its version number: 1, then one more per changed body
--   story_size           copies of its story, this one included
--   story_outlets        the outlets that ran a copy, sorted, each once
--   story_outlet_count   how many outlets ran a copy
--   story_first_seen_at  when the first copy was seen (the canonical's own time)
--   story_last_seen_at   when the latest copy was seen
--   event_id             the event of its story (events): every story of the same happening, in any words
--
-- Example: the stories that ran most often, with their outlets
--   SELECT title, source_name, article_date, story_size, story_outlets
--   FROM article_overview ORDER BY story_size DESC, article_date DESC, article_id LIMIT 10;
CREATE OR REPLACE VIEW article_overview AS
WITH story_copies AS (
    SELECT article_id AS story_id, article_id, source_id FROM articles
    UNION ALL
    SELECT article_id AS story_id, duplicate_article_id AS article_id, source_id FROM article_duplicates
),
copy_seen AS (
    SELECT article_id, min(seen_at) AS seen_at FROM article_signatures GROUP BY article_id
),
stories AS (
    SELECT
        c.story_id,
        count(*) AS story_size,
        list_sort(list_distinct(list(s.name))) AS story_outlets,
        count(DISTINCT s.name) AS story_outlet_count,
        min(seen.seen_at) AS story_first_seen_at,
        max(seen.seen_at) AS story_last_seen_at
    FROM story_copies c
    JOIN sources s ON s.source_id = c.source_id
    LEFT JOIN copy_seen seen ON seen.article_id = c.article_id
    GROUP BY c.story_id
)
SELECT
    a.article_id,
    a.title,
    s.name AS source_name,
    s.kind AS source_kind,
    a.outlet AS stated_outlet,
    a.url,
    a.published_at,
    a.fetched_at,
    CAST(timezone('UTC', coalesce(a.published_at, a.fetched_at)) AS DATE) AS article_date,
    a.language,
    a.word_count,
    a.version,
    st.story_size,
    st.story_outlets,
    st.story_outlet_count,
    st.story_first_seen_at,
    st.story_last_seen_at,
    ev.event_id
FROM articles a
JOIN sources s ON s.source_id = a.source_id
JOIN stories st ON st.story_id = a.article_id
LEFT JOIN article_events ev ON ev.article_id = a.article_id;
