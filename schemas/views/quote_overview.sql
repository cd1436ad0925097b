-- quote_overview: who said what, where and when.
-- One row per quote, with its speaker's canonical name when the speaker was resolved to an entity
-- (so every spelling of a name finds the same quotes) and the article it was quoted in. A story's
-- quotes are those of its canonical article: a copy adds none.
--
-- Columns:
--   quote_id           the quote (quotes.quote_id)
--   quote_text         what was said, quote marks excluded
--   speaker_name       the speaker's entity name, else the speaker as written; NULL when unattributed
--   speaker_entity_id  the speaker's entity (entities.entity_id); NULL when unresolved
--   speaker_text       the speaker as written in the article ("Lavrov", "the minister")
--   cue                the reporting verb or phrase ("said", "according to")
--   quote_kind         'direct' or 'partial'
--   confidence         0..1: how sure the attribution is
--   article_id         the article it was quoted in
--   article_title      that article's headline
--   source_name        the source the article came from
--   published_at       when the article was published; NULL when unknown
--   article_date       the UTC date of published_at, else of the article's fetch time (DATE)
--
-- Example: every quote by Sergey Lavrov, however his name was spelled (Sergei, Lavrov, ...), newest first
--   SELECT article_date, article_title, speaker_name, quote_text FROM quote_overview
--   WHERE speaker_name LIKE '%Lavrov' ORDER BY article_date DESC, article_title, quote_id;
CREATE OR REPLACE VIEW quote_overview AS
SELECT
    q.quote_id,
    q.quote_text,
    coalesce(e.name, q.speaker_text) AS speaker_name,
    q.speaker_entity_id,
    q.speaker_text,
    q.cue,
    q.kind AS quote_kind,
    q.confidence,
    q.article_id,
    a.title AS article_title,
    a.source_name,
    a.published_at,
    a.article_date
FROM quotes q
JOIN article_overview a ON a.article_id = q.article_id
LEFT JOIN entities e ON e.entity_id = q.speaker_entity_id;
