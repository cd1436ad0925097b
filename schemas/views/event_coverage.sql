-- event_coverage: which outlets covered each event (a real-world happening), however each wrote it, and when.
-- One row per event (pipelines/events/grouping.py): every story whose articles report the same happening,
-- copies included. An article is seen at its earliest input's published time, else its fetch time
-- (article_terms.seen_at: one row per input of an article, its body changed or not).
--
-- Columns:
--   event_id        the event (events.event_id): its first-seen article
--   label           its heaviest terms over all its articles
--   stories         stories (distinct texts and their copies) in it
--   articles        articles in it, copies included
--   outlet_count    how many outlets (sources.name) ran an article of it
--   outlets         those outlets, sorted, each once
--   first_seen_at   when its first article was seen
--   last_seen_at    when its latest article was seen
--   peak_day        the UTC day most of its articles were seen (the earliest such day on a tie)
--   per_day         articles per UTC day, in day order: a list of {day, articles}
--
-- Example: the events the most outlets covered, and when coverage started and peaked
--   SELECT label, outlet_count, stories, first_seen_at, peak_day
--   FROM event_coverage ORDER BY outlet_count DESC, articles DESC, event_id LIMIT 10;
CREATE OR REPLACE VIEW event_coverage AS
WITH article_seen AS (
    SELECT e.event_id, e.article_id, min(t.seen_at) AS seen_at, list_distinct(list(src.name)) AS outlets
    FROM article_events e
    JOIN article_terms t USING (article_id)
    JOIN raw_documents r ON r.raw_id = t.raw_id
    JOIN sources src ON src.source_id = r.source_id
    GROUP BY e.event_id, e.article_id
),
days AS (
    SELECT event_id, CAST(timezone('UTC', seen_at) AS DATE) AS day, count(*) AS articles
    FROM article_seen GROUP BY ALL
),
per_event_day AS (
    SELECT
        event_id,
        list({'day': day, 'articles': articles} ORDER BY day) AS per_day,
        first(day ORDER BY articles DESC, day) AS peak_day
    FROM days GROUP BY event_id
),
outlets AS (
    SELECT event_id, list_sort(list_distinct(flatten(list(outlets)))) AS outlets
    FROM article_seen GROUP BY event_id
)
SELECT
    ev.event_id,
    ev.label,
    ev.story_count AS stories,
    ev.article_count AS articles,
    ev.outlet_count,
    o.outlets,
    ev.first_seen_at,
    ev.last_seen_at,
    d.peak_day,
    d.per_day
FROM events ev
LEFT JOIN outlets o USING (event_id)
LEFT JOIN per_event_day d USING (event_id);
