-- Rejected rows of every validated table are quarantined, not only those of an input: an `entities`
-- row belongs to no single input, so `raw_id` may be NULL and the row is named by its table and
-- record id (tables.RECORD_ID_COLUMNS: article_id, entity_id, article_id:start_char:end_char, quote_id).

ALTER TABLE quarantine ALTER COLUMN raw_id DROP NOT NULL;
ALTER TABLE quarantine ADD COLUMN table_name VARCHAR;   -- the validated table of a refused row; NULL for a refused input
ALTER TABLE quarantine ADD COLUMN record_id VARCHAR;    -- its record id in that table
