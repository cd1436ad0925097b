-- Boilerplate learned from a source's history, not from whichever files share a batch (issue 13):
-- a short line that opens or closes many distinct documents of one source is its template text.
-- One row per distinct document a source gave (by the hash of its extracted paragraphs), so a re-run
-- or a re-fetched page never counts twice; a stage reads the counts from the published snapshot.

CREATE TABLE source_documents (
    source_id      VARCHAR NOT NULL,
    document_hash  VARCHAR NOT NULL,
    edge_lines     VARCHAR[] NOT NULL,   -- line keys (pipelines.text.paragraphs.line_key) of its short edge paragraphs
    PRIMARY KEY (source_id, document_hash)
);
