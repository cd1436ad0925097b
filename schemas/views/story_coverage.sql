-- story_coverage: which outlets ran each story, and when it was first and last seen.
-- One row per story (see article_overview: a story is its canonical article and every copy linked to
-- it). A copy is seen at its published time, else its fetch time; a story one outlet ran twice has
-- two copies and one outlet.
--
-- Columns:
--   story_id        the story's canonical article (articles.article_id, article_stories.story_id)
--   title           the canonical article's headline
--   copies          copies of the story, the canonical one included
--   outlet_count    how many outlets ran a copy
--   outlets         the outlets (sources.name) that ran a copy, sorted, each once
--   first_outlet    the outlet of the canonical copy: the one seen first
--   first_seen_at   when the first copy was seen
--   last_seen_at    when the latest copy was seen
--
-- Example: the stories the most outlets ran, and for how long
--   SELECT title, outlet_count, outlets, first_seen_at, last_seen_at - first_seen_at AS running_for
--   FROM story_coverage ORDER BY outlet_count DESC, copies DESC, first_seen_at LIMIT 10;
CREATE OR REPLACE VIEW story_coverage AS
SELECT
    article_id AS story_id,
    title,
    story_size AS copies,
    story_outlet_count AS outlet_count,
    story_outlets AS outlets,
    source_name AS first_outlet,
    story_first_seen_at AS first_seen_at,
    story_last_seen_at AS last_seen_at
FROM article_overview;
