"""What a validation verdict does to a batch: the one rule for which staged rows load and which go to quarantine.

The gate applies it while validating (children are checked against the parents that will load) and
the load applies it to the staged rows, from the verdict written beside the stages. A refused row of
any table becomes a quarantine row naming its table and record; an input none of whose articles
passed is quarantined itself, and feed items follow their article.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.records import Status
from pipelines.tables import (
    ARTICLE_CHILDREN,
    RECORD_ID_COLUMNS,
    VALIDATED_TABLES,
    record_id,
)

if TYPE_CHECKING:
    import pandas as pd

Rows = dict[str, list[dict[str, Any]]]
# quarantine.stage of the rows validation refused (the gate writes it, the quality page counts it).
VALIDATE_STAGE = "validate"
# The batch suite (one row per source), its meta rule deriving a source's usual volume from its history, and
# how many of a source's recent batches that history holds (the gate checks it, the quality page draws it).
BATCH_SUITE = "batch_sources"
EXPECTED_RANGE = "expected_range"
HISTORY_BATCHES = 10
# A rejected row as the gate reports it and the validation file keeps it.
QUARANTINE_COLUMNS = ("table_name", "record_id", "raw_id", "article_id", "stage", "reason", "detail")
# What of a rejected row the `quarantine` table stores (it has no article column: the record id names it).
QUARANTINE_ROW_KEYS = ("table_name", "record_id", "raw_id", "stage", "reason", "detail")


@dataclass(frozen=True, slots=True)
class Refusals:
    """The records a verdict refuses, and the refused articles with their reasons (their children leave with them)."""

    records: frozenset[tuple[str, str]]
    articles: Mapping[str, str]

    @classmethod
    def of(cls, rejected: Iterable[Mapping[str, Any]]) -> Refusals:
        rejected = list(rejected)
        return cls(
            records=frozenset((row["table_name"], row["record_id"]) for row in rejected),
            articles={
                row["article_id"]: row["reason"]
                for row in rejected
                if row["table_name"] == "articles" and row.get("article_id") is not None
            },
        )

    def keeps(self, table: str, row: Mapping[str, Any]) -> bool:
        """A row loads unless it was refused itself or belongs to a refused article."""
        if (table, record_id(table, row)) in self.records:
            return False
        return table not in ARTICLE_CHILDREN or row["article_id"] not in self.articles

    @staticmethod
    def columns_read(table: str) -> list[str]:
        """The columns of a `table` row that `keeps` reads."""
        return list(dict.fromkeys([*RECORD_ID_COLUMNS[table], *(["article_id"] if table in ARTICLE_CHILDREN else [])]))


def kept_frame(table: str, frame: pd.DataFrame, refusals: Refusals) -> pd.DataFrame:
    """The rows of a table's frame that will load, renumbered from 0.

    Only the columns `keeps` reads are turned into dicts (bodies and texts are not), and none when nothing of
    this table was refused (a refused article's children count as refused).
    """
    refused_here = any(name == table for name, _ in refusals.records)
    if not refused_here and not (table in ARTICLE_CHILDREN and refusals.articles):
        return frame.reset_index(drop=True)
    keep = [refusals.keeps(table, row) for row in frame[Refusals.columns_read(table)].to_dict("records")]
    return frame.loc[keep].reset_index(drop=True)


def apply_verdict(rows: Rows, rejected: Iterable[Mapping[str, Any]]) -> Rows:
    """A run's staged rows (`staging.merge_rows`) as they load: refused rows out, each of them in quarantine."""
    rejected = list(rejected)
    if not rejected:
        return rows
    refusals = Refusals.of(rejected)
    validated = {table: [row for row in rows[table] if refusals.keeps(table, row)] for table in VALIDATED_TABLES}
    quarantine = [{key: row[key] for key in QUARANTINE_ROW_KEYS} for row in rejected]
    with_articles = {row["raw_id"] for row in validated["articles"]}
    refused_raw = {row["raw_id"]: row["reason"] for row in rejected if row.get("raw_id")}
    raw_documents = [
        {**raw, "status": Status.QUARANTINED, "reason": refused_raw[raw["raw_id"]]}
        if raw["raw_id"] in refused_raw and raw["raw_id"] not in with_articles
        else raw
        for raw in rows["raw_documents"]
    ]
    feed_items = [
        {**item, "outcome": Status.QUARANTINED, "reason": refusals.articles[item["article_id"]]}
        if item.get("article_id") in refusals.articles
        else item
        for item in rows["feed_items"]
    ]
    return {
        **rows,
        **validated,
        "quarantine": [*rows["quarantine"], *quarantine],
        "raw_documents": raw_documents,
        "feed_items": feed_items,
    }
