"""The ingest job as two steps the CLI and the DAG share: stage a batch (pure, parallel-safe), then load it.

`stage_folder` reads and normalizes without touching the database; `load_stages` is the single
writer. `ingest_folder` runs both in-process for the CLI.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path

from pipelines.config import Settings
from pipelines.http.fetch import Fetcher
from pipelines.ids import sha256_hex
from pipelines.nlp.annotate import annotate
from pipelines.nlp.entities import KnownEntities
from pipelines.records import (
    ArticleRow,
    Entity,
    EntityMention,
    Quote,
    RawDocument,
    Rejection,
    Status,
)
from pipelines.sources.feed_config import FeedConfig, load_feeds
from pipelines.sources.folder import folder_source, list_folder, read_file
from pipelines.sources.polling import FeedState, is_due, poll_feed
from pipelines.storage.staging import (
    Manifest,
    Stage,
    Validation,
    apply_validation,
    drop_stage,
    merge_rows,
    read_stage,
    read_validation,
    stage_path,
    table_frame,
    write_stage,
    write_validation,
)
from pipelines.storage.store import LoadCounts, Store, latest_schema_version
from pipelines.text.articles import build_articles
from pipelines.text.normalize import language_detector, load_boilerplate_rules


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


def stage_folder(settings: Settings, run_id: str, trigger: str, shard: int = 0, shards: int = 1) -> StagedBatch:
    """Read the seed folder's files (those of one shard), build article rows, and stage the batch.

    Files are assigned to shards by a hash of their path, so mapped tasks split the folder without
    passing file lists around and every file lands in exactly one shard.
    """
    folder = settings.seeds_dir
    if not folder.is_dir():
        raise PipelineError(f"seed folder {folder} does not exist or is not a directory")
    if not 0 <= shard < shards:
        raise PipelineError(f"shard {shard} is not in 0..{shards - 1}")
    started_at = datetime.now(UTC)
    source = folder_source(folder)
    paths = [path for path in list_folder(folder) if shard_of(path.relative_to(folder).as_posix(), shards) == shard]
    results = [read_file(path, folder, source, settings) for path in paths]
    drafts = [draft for result in results for draft in result.drafts]
    rules = load_boilerplate_rules(settings.boilerplate_file)
    articles, build_rejections = build_articles(drafts, rules, language_detector())
    rejections = [rejection for result in results for rejection in result.rejections] + build_rejections
    raw_documents = _final_statuses([result.raw for result in results], articles, rejections)
    with read_view(settings) as view:
        annotations = annotate(articles, view.known_entities() if view else KnownEntities(), settings)
    path = write_stage(
        stage_path(settings.staging_dir, run_id if shards == 1 else f"{run_id}__shard{shard}"),
        Manifest(run_id=run_id, trigger=trigger, started_at=started_at, source_uri=source.uri),
        {"sources": [source], "raw_documents": raw_documents, "articles": annotations.articles,
         "quarantine": rejections, **annotations.tables()},
    )
    return StagedBatch(path, run_id, len(raw_documents), len(articles), len(rejections))


def shard_of(key: str, shards: int) -> int:
    return int(sha256_hex(key)[:8], 16) % shards


def _final_statuses(raws: list[RawDocument], articles: list[ArticleRow], rejections: list[Rejection]) -> list[RawDocument]:
    """A read file is 'loaded' when at least one article came from it, else quarantined with its items' reasons."""
    loaded = {article.raw_id for article in articles}
    reasons: dict[str, list[str]] = {}
    for rejection in rejections:
        reasons.setdefault(rejection.raw_id, []).append(rejection.reason)
    final = []
    for raw in raws:
        if raw.status != Status.READ:
            final.append(raw)
        elif raw.raw_id in loaded:
            final.append(replace(raw, status=Status.LOADED))
        else:
            why = "; ".join(dict.fromkeys(reasons.get(raw.raw_id, ["no article produced"])))
            final.append(replace(raw, status=Status.QUARANTINED, reason=why))
    return final


def _plain(value: object) -> object:
    """JSON-safe: pandas gives NaN for missing values."""
    return None if isinstance(value, float) and value != value else value


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
    from pipelines.quality.gate import BatchHistory, gx_loaded, validate_batch

    started, cold_start = time.perf_counter(), not gx_loaded()
    stages = _read_run(paths)
    rows = merge_rows(stages)
    checked = sorted({stage.manifest.source_uri for stage in stages if stage.manifest.counts.get("volume_checked", 1)})
    sources = {row["source_id"] for row in rows["sources"] if row["uri"] in checked}
    with read_view(settings) as view:
        history = view.recent_source_counts(sorted(sources)) if view else {}
    frames = {"articles": table_frame(rows["articles"], [column.name for column in fields(ArticleRow)])}
    for table, record in (("entities", Entity), ("entity_mentions", EntityMention), ("quotes", Quote)):
        frames[table] = table_frame(rows[table], [column.name for column in fields(record)])
    outcome = validate_batch(
        frames, settings.gx_dir, stages[0].manifest.run_id,
        history=BatchHistory({source: history.get(source, []) for source in sources}),
    )
    validation = Validation(
        success=outcome.success,
        validated=outcome.counts["articles"].staged if "articles" in outcome.counts else 0,
        rejected=[{key: _plain(value) for key, value in row.items()} for row in outcome.rejected.to_dict("records")],
        articles_per_source={source: outcome.articles_per_source.get(source, 0) for source in sources},
        docs_path=str(outcome.docs_path),
        pages={suite: str(page) for suite, page in outcome.pages.items()},
        batch_failures=list(outcome.batch_failures),
        seconds=round(time.perf_counter() - started, 3),
        cold_start=cold_start,
    )
    write_validation(stages[0].path, validation)
    outcome.raise_for_batch_failures()
    return validation


def load_stages(settings: Settings, paths: Sequence[Path]) -> LoadCounts:
    """The single writer: load one run's validated stages in one transaction, then delete them. On failure they stay."""
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
    with Store.open(settings.db_path, settings.schemas_dir) as store:
        try:
            counts = store.load_batch(manifest, apply_validation(merge_rows(stages), validation), stage_counts, validation)
        except Exception as exc:
            store.record_failed_run(manifest, f"{type(exc).__name__}: {exc}")
            raise
    for path in paths:
        drop_stage(path)
    publish_read_copy(settings)
    return counts


def ingest_folder(settings: Settings, trigger: str = "cli") -> LoadCounts:
    """Stage and load one micro-batch in-process: what `newsflow ingest` runs."""
    batch = stage_folder(settings, new_run_id(trigger), trigger)
    validate_stages(settings, [batch.path])
    return load_stages(settings, [batch.path])


def table_counts(settings: Settings) -> dict[str, int]:
    with Store.open(settings.db_path, settings.schemas_dir, read_only=True) as store:
        return store.table_counts()


# --- feeds -----------------------------------------------------------------------------------


@contextmanager
def read_view(settings: Settings) -> Iterator[Store | None]:
    """The published read-only copy: tasks read state without the writer's lock.

    None before the first load, and while the copy predates the current schema (the next load
    republishes it).
    """
    if not settings.read_db_path.exists():
        yield None
        return
    with Store.open(settings.read_db_path, settings.schemas_dir, read_only=True) as store:
        yield store if store.schema_version() >= latest_schema_version(settings.schemas_dir) else None


def feed_states(settings: Settings) -> dict[str, FeedState]:
    with read_view(settings) as view:
        return _states(view)


def _states(view: Store | None) -> dict[str, FeedState]:
    return {row["source_id"]: FeedState(**row) for row in (view.feed_states() if view else [])}


def due_feeds(settings: Settings, *, force: bool = False, now: datetime | None = None) -> list[FeedConfig]:
    """Enabled feeds whose next poll time has come (all enabled feeds with `force`)."""
    now = now or datetime.now(UTC)
    feeds = load_feeds(settings.feeds_file, settings.poll_minutes)
    states = feed_states(settings)
    return [feed for feed in feeds if feed.enabled and (force or is_due(feed, states.get(feed.source_id), now))]


def stage_feed(settings: Settings, feed: FeedConfig, run_id: str, trigger: str, fetcher: Fetcher | None = None) -> StagedBatch:
    """Poll one feed and stage what it brought; reads state from the published copy, writes nothing to DuckDB."""
    started_at = datetime.now(UTC)
    with read_view(settings) as view, (nullcontext(fetcher) if fetcher else Fetcher()) as client:
        def seen(source_id: str, keys: Sequence[str], urls: Sequence[str]) -> set[str]:
            return view.seen_items(source_id, list(keys), list(urls)) if view else set()

        poll = poll_feed(feed, _states(view).get(feed.source_id), client, seen, run_id,
                         load_boilerplate_rules(settings.boilerplate_file), language_detector(), started_at)
        annotations = annotate(poll.tables["articles"], view.known_entities() if view else KnownEntities(), settings)
    poll.tables.update(articles=annotations.articles, **annotations.tables())
    manifest = Manifest(run_id=run_id, trigger=trigger, started_at=started_at, source_uri=feed.url, counts=poll.counts)
    path = write_stage(stage_path(settings.staging_dir, f"{run_id}__feed_{feed.source_id}"), manifest, poll.tables)
    return StagedBatch(path, run_id, len(poll.tables["raw_documents"]), len(poll.tables["articles"]),
                       len(poll.tables["quarantine"]))


def ingest_feeds(settings: Settings, trigger: str = "cli", *, force: bool = False, fetcher: Fetcher | None = None) -> LoadCounts | None:
    """Poll the due feeds once, in-process, and load what they brought; None when no feed was due."""
    feeds = due_feeds(settings, force=force)
    if not feeds:
        return None
    run_id = new_run_id(trigger)
    with (nullcontext(fetcher) if fetcher else Fetcher()) as client:
        batches = [stage_feed(settings, feed, run_id, trigger, client) for feed in feeds]
    paths = [batch.path for batch in batches]
    validate_stages(settings, paths)
    return load_stages(settings, paths)


def publish_read_copy(settings: Settings) -> Path:
    """Copy the database to the read-only path with an atomic rename.

    DuckDB lets one process write and locks every other process out, readers included. Analysts and
    the polling tasks open this copy instead: a reader keeps the file it opened (the rename swaps
    the name, not the open file), so a long session never blocks a load and a load never breaks it.
    """
    target = settings.read_db_path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    shutil.copyfile(settings.db_path, tmp)
    os.replace(tmp, target)
    return target
