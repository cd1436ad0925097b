"""The registry of newsflow's tables: which exist, which a stage writes, which are validated.

Staging, the store, quality and the counts all take their table lists from here, and only these
names are ever interpolated into SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Tables analysts query; `newsflow stats` reports these.
DATA_TABLES = (
    "sources", "raw_documents", "articles", "article_versions", "article_duplicates", "article_stories",
    "article_signatures", "dedup_bands", "quarantine", "ingest_runs",
    "feed_state", "fetch_events", "feed_items", "run_source_counts",
    "entities", "entity_aliases", "article_entities", "entity_mentions", "quotes", "source_documents",
    "robots_cache",
)
# Published whole, as tables of the catalog: one row per feed or site, small however long the stream runs.
PUBLISHED_WHOLE = ("sources", "feed_state", "robots_cache", "schema_migrations", "dedup_state")
# Published as Parquet segments (pipelines.storage.segments): the tables that grow with the stream.
SEGMENTED_TABLES = tuple(table for table in DATA_TABLES if table not in PUBLISHED_WHOLE)
# The writer's column saying which published segment holds a row (NULL: written since the last publish).
SEGMENT = "_segment"
# What a stage task writes to disk for the load.
STAGED_TABLES = (
    "sources", "raw_documents", "articles", "quarantine", "fetch_events", "feed_state", "feed_items",
    "entities", "entity_aliases", "entity_mentions", "quotes", "source_documents", "robots_cache",
)
# Tables with an expectation suite, in validation order; a row of each is named in quarantine by its record id.
RECORD_ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "articles": ("article_id",),
    "entities": ("entity_id",),
    "entity_mentions": ("article_id", "start_char", "end_char"),
    "quotes": ("quote_id",),
}
VALIDATED_TABLES = tuple(RECORD_ID_COLUMNS)
# Rows that belong to one article: they leave with it (rejected, demoted to a copy, replaced by a new version).
ARTICLE_CHILDREN = ("entity_mentions", "quotes")


def record_id(table: str, row: Mapping[str, Any]) -> str:
    return ":".join(str(row[column]) for column in RECORD_ID_COLUMNS[table])


def check_table(table: str) -> str:
    """The name itself, when it is one of ours: the guard before a table name goes into SQL."""
    if table not in DATA_TABLES:
        raise ValueError(f"unknown table {table!r}")
    return table
