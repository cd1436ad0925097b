"""Orchestration only: the steps the CLI and the DAG tasks share, each calling the stages in order.

stage (`stage_folder`, `stage_feed`): read a source, build articles and annotations, write a stage;
no database writes, so stage tasks run in parallel. `validate_stages`: the quality gate before any
load. `load_stages`: the single writer, then the published snapshot. `ingest_folder` and
`ingest_feeds` run all three in-process for the CLI.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pipelines.config import Settings
from pipelines.failures import describe
from pipelines.http.fetcher import Fetcher, FetchPolicy
from pipelines.ids import sha256_hex
from pipelines.nlp.annotate import annotate, load_models
from pipelines.quality.verdict import apply_verdict
from pipelines.records import SourceBatch, final_statuses
from pipelines.rounds import PollRound
from pipelines.sources.discovery import Candidate, discover
from pipelines.sources.feed_config import FeedConfig, load_feeds
from pipelines.sources.folder import list_folder, read_folder
from pipelines.sources.polling import is_due
from pipelines.storage import run_queries
from pipelines.storage.feed_queries import robots_records
from pipelines.storage.history import stored_edges
from pipelines.storage.load import load_batch
from pipelines.storage.publish import (
    feed_states,
    is_current,
    open_writer,
    publish,
    read_view,
    save_feed_state,
)
from pipelines.storage.run_queries import LoadCounts
from pipelines.storage.staging import (
    Manifest,
    Stage,
    Validation,
    drop_stage,
    merge_rows,
    read_stage,
    read_validation,
    stage_path,
    write_stage,
    write_validation,
)
from pipelines.storage.store import Store
from pipelines.text.articles import extract_draft, finish_articles
from pipelines.text.boilerplate import load_boilerplate_rules
from pipelines.urls import host_of
from pipelines.workers import shares_memory, worker_map, worker_pool

# The story of a run in its task log (or the CLI's): a line per stage, validation and load, with the counts.
log = logging.getLogger(__name__)


class PipelineError(RuntimeError):
    """The job itself failed (not one input): the message is the one-line reason the CLI prints."""


@dataclass(frozen=True, slots=True)
class StagedBatch:
    path: Path
    run_id: str
    inputs: int
    articles: int
    rejections: int


def new_run_id(trigger: str) -> str:
    return f"{trigger}__{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}__{uuid.uuid4().hex[:8]}"


def stage_folder(
    settings: Settings,
    run_id: str,
    trigger: str,
    shard: int = 0,
    shards: int = 1,
    meanwhile: Callable[[], object] | None = None,
) -> StagedBatch:
    """Read the seed folder's files (those of one shard), build article rows, and stage the batch.

    Files are assigned to shards by a hash of their path, so mapped tasks split the folder without
    passing file lists around and every file lands in exactly one shard. `meanwhile`: work for this
    process while its workers parse (see `pipelines.nlp.annotate.annotate`).
    """
    folder = settings.seeds_dir
    if not folder.is_dir():
        raise PipelineError(f"seed folder {folder} does not exist or is not a directory")
    if not 0 <= shard < shards:
        raise PipelineError(f"shard {shard} is not in 0..{shards - 1}")
    started_at = datetime.now(UTC)
    paths = [path for path in list_folder(folder) if shard_of(path.relative_to(folder).as_posix(), shards) == shard]
    batch = read_folder(folder, paths, settings)
    with read_view(settings) as view:
        known = _loaded_before(view, batch)
        tables = _stage_drafts(settings, view, batch, known, meanwhile)
    # The volume checks compare whole batches: one that skipped files loaded before is not "too few".
    counts = {"volume_checked": int(not known)}
    path = write_stage(
        stage_path(settings.staging_dir, run_id if shards == 1 else f"{run_id}__shard{shard}"),
        Manifest(run_id=run_id, trigger=trigger, started_at=started_at, source_uri=batch.source.uri, counts=counts),
        tables,
    )
    return _staged(path, run_id, tables)


def shard_of(key: str, shards: int) -> int:
    return int(sha256_hex(key)[:8], 16) % shards


def _loaded_before(view: Store | None, batch: SourceBatch) -> set[str]:
    """Inputs (same source, path and bytes) a load already stored: the load would only count them as unchanged."""
    return view.existing("raw_documents", "raw_id", [raw.raw_id for raw in batch.raw_documents]) if view else set()


def _stage_drafts(
    settings: Settings,
    view: Store | None,
    batch: SourceBatch,
    known: set[str],
    meanwhile: Callable[[], object] | None = None,
) -> dict[str, list[Any]]:
    """The one path every source takes once read: drafts -> articles -> annotations, as rows per staged table.

    Inputs in `known` were loaded before: their rows are staged as read (the load counts them as unchanged)
    and their text is not extracted or parsed again, so a batch with nothing new costs next to nothing.
    """
    drafts = [draft for draft in batch.drafts if draft.raw_id not in known]
    rules = load_boilerplate_rules(settings.boilerplate_file)
    load_here = bool(drafts) and shares_memory(settings.workers, len(drafts))
    with worker_map(settings.workers, len(drafts)) as map_:
        extracting = map_(extract_draft, drafts)
        if load_here:  # while the workers extract: the parse's workers fork after this and share the models
            load_models(settings.spacy_model)
        extracted = list(extracting)
    with worker_map(settings.workers, len(drafts), partial(load_models, settings.spacy_model)) as map_:
        built = finish_articles(extracted, rules, stored_edges(view), map_)
        annotations = annotate(built.articles, settings, map_, meanwhile)
    rejections = [
        rejection
        for rejection in [*batch.rejections, *built.rejections, *annotations.rejections]
        if rejection.raw_id not in known
    ]
    return {
        "sources": [batch.source],
        "raw_documents": final_statuses(batch.raw_documents, built.articles, rejections, known),
        "articles": annotations.articles,
        "quarantine": rejections,
        "source_documents": built.documents,
        **annotations.tables(),
    }


def _staged(path: Path, run_id: str, tables: dict[str, list[Any]]) -> StagedBatch:
    batch = StagedBatch(path, run_id, len(tables["raw_documents"]), len(tables["articles"]), len(tables["quarantine"]))
    log.info(
        "staged %s: %d inputs, %d articles, %d refused (%d entity mentions, %d quotes)",
        path.name,
        batch.inputs,
        batch.articles,
        batch.rejections,
        len(tables.get("entity_mentions", ())),
        len(tables.get("quotes", ())),
    )
    return batch


def _read_run(paths: Sequence[Path]) -> list[Stage]:
    if not paths:
        raise PipelineError("no staged batch to load")
    stages = [read_stage(path) for path in paths]
    if len({stage.manifest.run_id for stage in stages}) != 1:
        raise PipelineError("stages of different runs cannot be loaded together")
    return stages


def validate_stages(settings: Settings, paths: Sequence[Path]) -> Validation:
    """Validate a run's staged rows with the expectation suites BEFORE anything loads.

    The verdict is written beside the first stage; the load applies it (rejected rows go to
    quarantine). A batch-level failure raises BatchValidationError and leaves the stages for replay.
    """
    from pipelines.quality.context import gx_loaded
    from pipelines.quality.gate import BatchHistory, staged_frames, validate_batch

    started, loaded_before = time.perf_counter(), gx_loaded()
    stages = _read_run(paths)
    rows = merge_rows(stages)
    sources = volume_sources(stages, rows["sources"])
    with read_view(settings) as view:
        history = run_queries.recent_source_counts(view, sorted(sources)) if view else {}
    outcome = validate_batch(
        staged_frames(rows),
        settings.gx_dir,
        stages[0].manifest.run_id,
        history=BatchHistory({source: history.get(source, []) for source in sources}),
    )
    validation = Validation(
        success=outcome.success,
        validated=outcome.counts["articles"].staged if "articles" in outcome.counts else 0,
        rejected=list(outcome.rejected_rows),
        articles_per_source={source: outcome.articles_per_source.get(source, 0) for source in sources},
        docs_path=str(outcome.docs_path),
        pages={suite: str(page) for suite, page in outcome.pages.items()},
        batch_failures=list(outcome.batch_failures),
        seconds=round(time.perf_counter() - started, 3),
        cold_start=not loaded_before and gx_loaded(),  # an empty batch passes without importing GX
    )
    write_validation(stages[0].path, validation)
    log.info(
        "validated %d articles: %d rows refused%s",
        validation.validated,
        len(validation.rejected),
        "; the batch stops: " + "; ".join(validation.batch_failures) if validation.batch_failures else "",
    )
    if outcome.batch_failures:
        _refresh_quality_page(settings)  # the refused batch shows on the page (from its stored results)
    outcome.raise_for_batch_failures()
    return validation


def volume_sources(stages: Sequence[Stage], sources: Sequence[dict[str, Any]]) -> set[str]:
    """The sources whose batch volume the gate checks: a folder read in full, a feed that brought new items."""
    checked: set[str] = set()
    for stage in stages:
        manifest = stage.manifest
        if manifest.volume_sources is not None:
            checked.update(manifest.volume_sources)
        elif manifest.counts.get("volume_checked", 1):
            checked.update(row["source_id"] for row in sources if row["uri"] == manifest.source_uri)
    return checked


def load_stages(settings: Settings, paths: Sequence[Path]) -> LoadCounts:
    """The single writer: load one run's validated stages in one transaction, publish, then delete them.

    Published only when the load changed what analysts query (`changes_articles`), or the snapshot is
    missing, outdated or over an hour old; the feed state is saved beside it either way, for the next
    plan. On failure the stages stay for the retry; a retry of a run that committed but was stopped
    before it published (a killed worker) loads nothing again and publishes.
    """
    stages = _read_run(paths)
    manifest = stages[0].manifest
    validation = read_validation(stages[0].path)
    if validation is None:
        raise PipelineError(f"stage {stages[0].path} was not validated; run validate_stages first")
    if validation.batch_failures:
        raise PipelineError("the batch failed validation and stays staged: " + "; ".join(validation.batch_failures))
    stage_counts: dict[str, int] = {}
    for stage in stages:
        for name, value in stage.manifest.counts.items():
            stage_counts[name] = stage_counts.get(name, 0) + value
    rows = apply_verdict(merge_rows(stages), validation.rejected)
    published = True
    try:
        with open_writer(settings) as store:
            counts = run_queries.loaded_run(
                store, manifest.run_id
            )  # set when a killed writer committed but did not publish
            if counts is None:
                try:
                    counts = load_batch(store, settings, manifest, rows, stage_counts, validation)
                except Exception as exc:
                    run_queries.record_failed_run(store, manifest, describe(exc))
                    publish(store, settings)  # the failed run is visible to readers too
                    raise
                published = changes_articles(counts) or not is_current(settings, datetime.now(UTC))
            save_feed_state(store, settings.feed_state_path)
            if published:
                publish(store, settings)
        for path in paths:
            drop_stage(path)
        with suppress(OSError):  # a step that failed once, then passed on its retry
            _failure_notes(settings, manifest.run_id).unlink()
    finally:  # the page shows what was published, a failed run included, once the writer is closed
        if published:
            _refresh_quality_page(settings)
    log.info(
        "loaded run %s: %d inputs, %d new articles, %d updated, %d the same, %d unchanged inputs, %d quarantined, "
        "%d skipped; %s",
        manifest.run_id,
        counts.inputs,
        counts.articles_new,
        counts.articles_updated,
        counts.articles_same,
        counts.unchanged,
        counts.quarantined,
        counts.skipped,
        "published" if published else "not published (nothing changed)",
    )
    return replace(counts, published=published)


def changes_articles(counts: LoadCounts) -> bool:
    """Whether a load changed what analysts query: an article or a copy, a new version, an input refused or skipped.

    A load of polls that found nothing new (304s, unchanged bodies, items seen before) changes only
    polling state and run records: no publish, no Asset event.
    """
    return bool(counts.articles_new or counts.articles_updated or counts.quarantined or counts.skipped)


def _refresh_quality_page(settings: Settings) -> None:
    """The static data-quality page, from what was just published; best effort, never the run's error."""
    # Imported here: jinja2 and the page's code are paid only when a run ends.
    from pipelines.reporting.refresh import refresh_quality_page

    refresh_quality_page(settings)


def ingest_folder(settings: Settings, trigger: str = "cli") -> LoadCounts:
    """Stage and load one micro-batch in-process: what `newsflow ingest` runs."""
    run_id = new_run_id(trigger)
    with recording_failure(settings, run_id, trigger):
        batch = stage_folder(settings, run_id, trigger, meanwhile=partial(warm_up_validate_and_load, settings))
        validate_stages(settings, [batch.path])
        return load_stages(settings, [batch.path])


# --- failed runs -----------------------------------------------------------------------------


@contextmanager
def recording_failure(settings: Settings, run_id: str, trigger: str) -> Iterator[None]:
    """Run one whole run in-process (the CLI's): if it fails, its `ingest_runs` row says so before the error goes on."""
    started_at = datetime.now(UTC)
    try:
        yield
    except Exception as exc:
        try:
            record_failed_run(settings, run_id, trigger, started_at, describe(exc))
        except Exception as unrecorded:  # the database itself failed: the run's own error is the one to see
            exc.add_note(f"the failed run could not be recorded: {describe(unrecorded)}")
        raise


@contextmanager
def noting_failure(settings: Settings, run_id: str, step: str) -> Iterator[None]:
    """One step of a run spread over tasks (Airflow's): a failure leaves its error beside the stages, where the
    run's `record_failure` task finds it (`record_failed_run`)."""
    try:
        yield
    except Exception as exc:
        notes = _failure_notes(settings, run_id)
        try:
            notes.parent.mkdir(parents=True, exist_ok=True)
            with notes.open("a", encoding="utf-8") as file:  # one short line per write: mapped tasks may append at once
                file.write(json.dumps({"step": step, "error": describe(exc)}) + "\n")
        except OSError as unwritable:  # the staging folder itself is what failed: the task's log has the error
            exc.add_note(f"the failure could not be noted at {notes}: {describe(unwritable)}")
        raise


def record_failed_run(
    settings: Settings, run_id: str, trigger: str, started_at: datetime, error: str | None = None
) -> str:
    """A failed run's `ingest_runs` row (status `failed`, `error`, else the errors its steps noted), published and
    on the data-quality page, unless the run has a row already (a load records its own failure). The error."""
    notes = _failure_notes(settings, run_id)
    noted = [json.loads(line) for line in notes.read_text(encoding="utf-8").splitlines()] if notes.exists() else []
    error = error or "; ".join(f"{note['step']}: {note['error']}" for note in noted) or "a task failed: see its log"
    manifest = Manifest(run_id=run_id, trigger=trigger, started_at=started_at, source_uri="")
    with open_writer(settings) as store:
        recorded = run_queries.record_failed_run(store, manifest, error)
        if recorded:
            publish(store, settings)
    with suppress(OSError):  # none were noted, or the staging folder is what failed
        notes.unlink()
    if recorded:
        _refresh_quality_page(settings)
    return error


def _failure_notes(settings: Settings, run_id: str) -> Path:
    stage = stage_path(settings.staging_dir, run_id)
    return stage.with_name(f"{stage.name}.failed.jsonl")


def warm_up_validate_and_load(settings: Settings) -> None:
    """Import what validating and loading need (Great Expectations and its context: 6–7 CPU-seconds;
    datasketch) while the stage's workers parse, instead of after them: the CLI runs all steps in one process."""
    from pipelines.dedup.signatures import warm_up as warm_up_dedup
    from pipelines.quality.context import preload

    preload(settings.gx_dir)
    warm_up_dedup()


def table_counts(settings: Settings) -> dict[str, int]:
    with Store.open(settings.db_path, settings.schemas_dir, read_only=True) as store:
        return store.table_counts()


def run_query(settings: Settings, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
    """A read-only query for `newsflow query`: column names and rows."""
    with Store.open(settings.db_path, settings.schemas_dir, read_only=True) as store:
        return store.query(sql)


# --- feeds -----------------------------------------------------------------------------------


def _fetcher(settings: Settings, fetcher: Fetcher | None) -> AbstractContextManager[Fetcher]:
    """The caller's fetcher (left open), or one built from the run's settings and closed after use."""
    return nullcontext(fetcher) if fetcher else Fetcher(FetchPolicy.from_settings(settings))


def due_feeds(settings: Settings, *, force: bool = False, now: datetime | None = None) -> list[FeedConfig]:
    """Enabled feeds whose next poll time has come (all enabled feeds with `force`)."""
    now = now or datetime.now(UTC)
    feeds = load_feeds(settings.feeds_file, settings.poll_minutes)
    states = feed_states(settings)
    return [feed for feed in feeds if feed.enabled and (force or is_due(feed, states.get(feed.source_id), now))]


def plan_polls(settings: Settings, *, force: bool = False, now: datetime | None = None) -> list[list[FeedConfig]]:
    """The due feeds in at most `settings.poll_tasks` groups, one poll task each; a site's feeds share a group,
    so its manners (per-host slots and delay, Retry-After) hold across the whole tick."""
    feeds = due_feeds(settings, force=force, now=now)
    groups: list[list[FeedConfig]] = [[] for _ in range(min(settings.poll_tasks, len(feeds)))]
    for feed in feeds:
        groups[shard_of(host_of(feed.url), len(groups))].append(feed)
    return [group for group in groups if group]


def stage_feeds(
    settings: Settings,
    feeds: Sequence[FeedConfig],
    run_id: str,
    trigger: str,
    *,
    fetcher: Fetcher | None = None,
    scheduled_at: datetime | None = None,
    group: int = 0,
    meanwhile: Callable[[], object] | None = None,
) -> StagedBatch:
    """Poll `feeds` in one round (`pipelines.rounds`) and stage what they brought as one batch; writes nothing
    to DuckDB: state comes from the published snapshot and the feed state saved beside it.

    `scheduled_at`: the schedule's tick the polls run for; each feed's next poll is due an interval after it.
    `group`: which of a tick's poll tasks this is (its stage's name). `meanwhile`: see `stage_folder`.
    """
    started_at = datetime.now(UTC)
    states = feed_states(settings)
    # The workers start before the round's threads: forking is safe only then.
    with read_view(settings) as view, worker_pool(settings.workers) as pool, _fetcher(settings, fetcher) as client:
        client.remember_robots(
            robots_records(view) if view else []
        )  # robots.txt read by earlier runs, until it expires
        polled = PollRound(settings, states, view, client, pool, run_id, started_at, scheduled_at, meanwhile).run(feeds)
        tables = {**polled.tables, "robots_cache": client.fetched_robots()}
    manifest = Manifest(
        run_id=run_id,
        trigger=trigger,
        started_at=started_at,
        source_uri=str(settings.feeds_file),
        counts=polled.counts,
        volume_sources=polled.volume_sources,
    )
    path = write_stage(stage_path(settings.staging_dir, f"{run_id}__poll{group}"), manifest, tables)
    return _staged(path, run_id, tables)


def ingest_feeds(
    settings: Settings, trigger: str = "cli", *, force: bool = False, fetcher: Fetcher | None = None
) -> LoadCounts | None:
    """Poll the due feeds in one round, in-process, and load what they brought; None when no feed was due."""
    run_id = new_run_id(trigger)
    with recording_failure(settings, run_id, trigger):  # a broken feeds.yaml fails the run, recorded too
        feeds = due_feeds(settings, force=force)
        if not feeds:
            return None
        batch = stage_feeds(
            settings, feeds, run_id, trigger, fetcher=fetcher, meanwhile=partial(warm_up_validate_and_load, settings)
        )
        validate_stages(settings, [batch.path])
        return load_stages(settings, [batch.path])


def discover_feeds(settings: Settings, url: str, fetcher: Fetcher | None = None) -> list[Candidate]:
    """`newsflow feeds add`: what `url` offers to poll, fetched like a poll (address guard, stored robots.txt)."""
    with read_view(settings) as view, _fetcher(settings, fetcher) as client:
        client.remember_robots(robots_records(view) if view else [])
        return discover(url, client)
