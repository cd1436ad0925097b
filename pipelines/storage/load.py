"""The load of one staged run: its steps, in order, in one transaction.

Idempotent: rows are keyed by ids derived from content, an input already loaded is recognised by its
raw_id, and a re-run adds nothing. Each step is a function of the `LoadBatch` (pipelines.storage.batch):
it reads the staged rows and what earlier steps set, writes through the `Store` and its query modules,
and leaves what later steps need. The decisions are made elsewhere: article versions by
pipelines.storage.versions, stories by pipelines.dedup.stories, events by pipelines.events.grouping,
entities by pipelines.nlp.entities; a step only sequences them and shapes their rows. A step's
configuration lives in `Settings` (`dedup`, `events`, the alias file), so adding a step is its module
plus one entry below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipelines.config import Settings
from pipelines.storage.batch import LoadBatch, Rows
from pipelines.storage.run_queries import LoadCounts
from pipelines.storage.staging import Manifest, Validation
from pipelines.storage.steps.entities import load_entities
from pipelines.storage.steps.events import load_events
from pipelines.storage.steps.inputs import (
    load_inputs,
    load_polling_state,
    load_quarantine,
)
from pipelines.storage.steps.runs import record_loaded_run
from pipelines.storage.steps.stories import load_stories, load_versions
from pipelines.storage.store import Store, utc_now


@dataclass(frozen=True, slots=True)
class LoadStep:
    name: str
    run: Callable[[LoadBatch], None]


LOAD_STEPS = (
    LoadStep("inputs", load_inputs),  # sources, and the inputs not loaded before
    LoadStep("versions", load_versions),  # each fresh article as a new, updated or unchanged body version
    LoadStep("stories", load_stories),  # changed versions into stories: the canonical articles and copies
    LoadStep("events", load_events),  # changed versions into events: stories reporting the same happening
    LoadStep("entities", load_entities),  # mentions and quotes of the written articles; entities re-resolved
    LoadStep("quarantine", load_quarantine),  # what the stages and the quality gate refused, and why
    LoadStep("polling", load_polling_state),  # requests, feed state, items, source documents, robots.txt
    LoadStep("run", record_loaded_run),  # the run's `ingest_runs` row and its articles per source
)


def load_batch(
    store: Store,
    settings: Settings,
    manifest: Manifest,
    rows: Rows,
    stage_counts: Mapping[str, int],
    validation: Validation,
    steps: tuple[LoadStep, ...] = LOAD_STEPS,
) -> LoadCounts:
    """Load one run's validated rows in a single transaction; inputs already loaded are counted, not re-inserted."""
    batch = LoadBatch(store, settings, manifest, rows, validation, stage_counts, utc_now())
    with store.transaction():
        for step in steps:
            step.run(batch)
        if batch.counts is None:  # inside the transaction: a load that records no run writes nothing
            raise RuntimeError("the load's steps end with the `run` step, which records what the load did")
    return batch.counts
