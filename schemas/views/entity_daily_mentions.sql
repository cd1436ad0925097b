-- entity_daily_mentions: how often each entity was mentioned, day by day.
-- One row per entity and day with at least one mention. The day is the article's (UTC publication
-- date, else the date it was fetched); every spelling of an entity counts for it. A story's mentions
-- are those of its canonical article: a copy of the same text does not count again.
--
-- Columns:
--   entity_id      the entity (entities.entity_id)
--   entity_name    its canonical name
--   entity_type    PERSON, ORG, GPE, LOC, NORP, EVENT, ...
--   day            the articles' date (DATE)
--   mention_count  mentions of the entity in that day's articles
--   article_count  articles of that day that mention it
--
-- Example: the people mentioned most, per day
--   SELECT day, entity_name, mention_count, article_count FROM entity_daily_mentions
--   WHERE entity_type = 'PERSON' ORDER BY day DESC, mention_count DESC, entity_name LIMIT 20;
CREATE OR REPLACE VIEW entity_daily_mentions AS
SELECT
    m.entity_id,
    e.name AS entity_name,
    e.type AS entity_type,
    a.article_date AS day,
    count(*) AS mention_count,
    count(DISTINCT m.article_id) AS article_count
FROM entity_mentions m
JOIN entities e ON e.entity_id = m.entity_id
JOIN article_overview a ON a.article_id = m.article_id
GROUP BY m.entity_id, e.name, e.type, a.article_date;
