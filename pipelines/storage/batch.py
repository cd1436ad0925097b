"""What the load's steps share: one run's validated rows on their way into the store, and what each step
leaves for the ones after it (pipelines.storage.load runs them in order, in one transaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.config import Settings
from pipelines.storage.run_queries import LoadCounts
from pipelines.storage.staging import Manifest, Validation
from pipelines.storage.store import Store
from pipelines.storage.versions import VersionPlan

Row = dict[str, Any]
Rows = Mapping[str, list[Row]]


@dataclass(slots=True)
class LoadBatch:
    """A load in progress. The first block is given; each step reads what earlier steps set and sets its own."""

    store: Store
    settings: Settings  # the steps' configs: `settings.dedup`, the alias file, ...
    manifest: Manifest
    rows: Rows  # staged rows per table, after the quality verdict
    validation: Validation
    stage_counts: Mapping[str, int]
    now: datetime
    known: set[str] = field(default_factory=set)  # raw_ids loaded before: counted as unchanged, never re-inserted
    fresh_ids: set[str] = field(default_factory=set)  # raw_ids this load inserts
    skipped: int = 0  # fresh inputs that are not articles (an index page, a feed body): no refusal either
    versions: VersionPlan | None = None  # the `versions` step's plan of the fresh articles' body versions
    written: set[str] = field(default_factory=set)  # articles whose `articles` row this load wrote
    copies: set[str] = field(default_factory=set)  # articles that are copies now (they leave `articles`)
    story_of: dict[str, str] = field(default_factory=dict)  # every article of a story this load touched: its story
    quarantined: int = 0  # refusals this load recorded for the first time
    counts: LoadCounts | None = None  # what the load did, as the run's `ingest_runs` row records it

    @property
    def run_id(self) -> str:
        return self.manifest.run_id


def seen_at(row: Row) -> datetime:
    """When the input says the article appeared: its publication time, else when it was fetched."""
    return row["published_at"] or row["fetched_at"]


def unique_by(rows: Sequence[Row], keys: tuple[str, ...]) -> list[Row]:
    """First row per key: ON CONFLICT would otherwise keep an arbitrary one of two duplicates in a batch."""
    seen: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        seen.setdefault(tuple(row[key] for key in keys), row)
    return list(seen.values())
