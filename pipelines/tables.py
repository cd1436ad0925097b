"""The registry of newsflow's tables: one declaration per table, from which every list of tables is derived.

Staging, the store, the quality gate, publishing and the counts all take their table lists from here,
and only these names are ever interpolated into SQL. Adding a table is its migration
(`schemas/migrations/`) plus one `Table` below; a stage's rows reach it when the stage returns them
under its name, a validated table also needs its suite (`schemas/expectations/<name>.json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pipelines.records import (
    ArticleRow,
    ArticleTerms,
    Entity,
    EntityAlias,
    EntityMention,
    FeedItem,
    FeedState,
    FetchEvent,
    Quote,
    RawDocument,
    Rejection,
    Source,
    SourceDocument,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# The writer's column saying which published segment holds a row (NULL: written since the last publish).
SEGMENT = "_segment"


@dataclass(frozen=True, slots=True)
class Table:
    """One table and the parts of the pipeline it takes part in."""

    name: str
    # The row type a stage writes for it (pipelines.records); None where the load alone writes it, or the
    # type lives above this layer (robots_cache's RobotsRecord, in pipelines.http).
    record: type[DataclassInstance] | None = None
    staged: bool = False  # a stage writes its rows to disk for the load
    annotation: bool = False  # the NLP stage writes it (`Annotations.tables()`)
    # The columns naming one row in quarantine; a table with them has an expectation suite and is validated.
    ids: tuple[str, ...] = ()
    article_child: bool = False  # its rows belong to one article: they leave with it (refused, demoted, replaced)
    # How the published file holds it: Parquet segments (tables that grow with the stream), whole in the
    # catalog (one row per feed or site, small however long the stream runs), or not at all (the writer's own).
    published: Literal["segments", "whole", "never"] = "segments"
    queried: bool = True  # a table analysts query, `newsflow stats` reports; False: the schema's own bookkeeping
    written: bool = False  # bookkeeping the load writes by name through the Store (queried tables always are)

    @property
    def validated(self) -> bool:
        return bool(self.ids)


TABLES = (
    Table("sources", Source, staged=True, published="whole"),
    Table("raw_documents", RawDocument, staged=True),
    Table("articles", ArticleRow, staged=True, ids=("article_id",)),
    Table("article_versions"),
    Table("article_duplicates"),
    Table("article_stories"),
    Table("article_signatures"),
    Table("dedup_bands"),
    Table("quarantine", Rejection, staged=True),
    Table("ingest_runs"),
    Table("feed_state", FeedState, staged=True, published="whole"),
    Table("fetch_events", FetchEvent, staged=True),
    Table("feed_items", FeedItem, staged=True),
    Table("run_source_counts"),
    Table("entities", Entity, staged=True, annotation=True, ids=("entity_id",)),
    Table("entity_aliases", EntityAlias, staged=True, annotation=True),
    Table("article_entities"),
    Table(
        "entity_mentions",
        EntityMention,
        staged=True,
        annotation=True,
        ids=("article_id", "start_char", "end_char"),
        article_child=True,
    ),
    Table("quotes", Quote, staged=True, annotation=True, ids=("quote_id",), article_child=True),
    Table("source_documents", SourceDocument, staged=True),
    Table("article_terms", ArticleTerms, staged=True, annotation=True),
    Table("event_keys"),
    Table("article_events"),
    Table("events"),
    # The events step's own bookkeeping (pipelines.events.grouping: cores and the lone articles that joined them).
    Table("article_cores", published="never", queried=False, written=True),
    Table("event_cores", published="never", queried=False, written=True),
    Table("robots_cache", staged=True, published="whole"),
    Table("schema_migrations", published="whole", queried=False),
    Table("dedup_state", published="whole", queried=False),
    Table("event_state", published="whole", queried=False),
    # What the writer knows of the published segments (pipelines.storage.segments and marks).
    Table("published_segments", published="never", queried=False),
    Table("lost_segments", published="never", queried=False),
)
BY_NAME = {table.name: table for table in TABLES}

# Tables analysts query; `newsflow stats` reports these.
DATA_TABLES = tuple(table.name for table in TABLES if table.queried)
# Names the Store's generic writes take: the data tables and the bookkeeping the load writes row by row.
WRITTEN_TABLES = tuple(table.name for table in TABLES if table.queried or table.written)
# Published whole, as tables of the catalog: one row per feed or site, small however long the stream runs.
PUBLISHED_WHOLE = tuple(table.name for table in TABLES if table.published == "whole")
# Published as Parquet segments (pipelines.storage.segments): the tables that grow with the stream.
SEGMENTED_TABLES = tuple(table.name for table in TABLES if table.published == "segments")
# What a stage task writes to disk for the load.
STAGED_TABLES = tuple(table.name for table in TABLES if table.staged)
# Tables with an expectation suite, in validation order; a row of each is named in quarantine by its record id.
RECORD_ID_COLUMNS = {table.name: table.ids for table in TABLES if table.validated}
VALIDATED_TABLES = tuple(RECORD_ID_COLUMNS)
VALIDATED_RECORDS = {table.name: table.record for table in TABLES if table.validated and table.record}
ANNOTATION_TABLES = tuple(table for table in TABLES if table.annotation)
# Rows that belong to one article: they leave with it (rejected, demoted to a copy, replaced by a new version).
ARTICLE_CHILDREN = tuple(table.name for table in TABLES if table.article_child)


def record_id(table: str, row: Mapping[str, Any]) -> str:
    return ":".join(str(row[column]) for column in RECORD_ID_COLUMNS[table])


def rows_by_table(records: list[object], tables: tuple[Table, ...]) -> dict[str, list[object]]:
    """Records sorted into the given tables by their type, every table present (empty when none came)."""
    return {table.name: [row for row in records if type(row) is table.record] for table in tables}


def check_table(table: str) -> str:
    """The name itself, when it is one of ours: the guard before a table name goes into SQL."""
    if table not in WRITTEN_TABLES:
        raise ValueError(f"unknown table {table!r}")
    return table
