-- Resolution across articles moves to the load (issue 12): an entity's id, type and name are computed
-- from every stored article, so they no longer depend on how articles were batched, sharded or ordered.
-- A stage resolves each article alone; the load keeps those per-article entities here, with what they add
-- to the votes across articles, and re-resolves the names each batch changes (pipelines/storage/load.py).
-- `entities` and `entity_aliases` are derived from them and from `entity_mentions`.

CREATE TABLE article_entities (
    article_id   VARCHAR NOT NULL,
    local_id     VARCHAR NOT NULL,           -- the id the article alone gives the entity (entity_mentions.local_id)
    name         VARCHAR NOT NULL,           -- its most frequent full form in the article
    name_key     VARCHAR NOT NULL,           -- keys.name_key(name): type votes add up per key
    word         VARCHAR,                    -- a one-word name's person key: the surname it may be
    first_word   VARCHAR,                    -- a full name's first and last person-key words
    last_word    VARCHAR,
    surname_key  VARCHAR,                    -- a full name voted PERSON lends its mentions as PERSON votes to this key
    votes        MAP(VARCHAR, DOUBLE) NOT NULL,  -- label -> votes of its mentions (weighted by name length)
    mentions     INTEGER NOT NULL,
    entity_id    VARCHAR NOT NULL,           -- what resolution across all stored articles made of it
    type         VARCHAR NOT NULL,
    PRIMARY KEY (article_id, local_id)
);

-- Mentions and speakers keep the article's own entity, so a later resolution can re-point them.
-- Rows stored before this migration get theirs from their current entity; the next load regroups them.
ALTER TABLE entity_mentions ADD COLUMN local_id VARCHAR;
UPDATE entity_mentions SET local_id = entity_id;
ALTER TABLE quotes ADD COLUMN speaker_local_id VARCHAR;
UPDATE quotes SET speaker_local_id = speaker_entity_id;
