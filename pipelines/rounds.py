"""A poll round: many feeds read at once, their pages parsed while other feeds are still being fetched.

A newsroom polls hundreds of feeds, most of them quiet, each behind its own site's manners (robots.txt,
per-host slots and delay, Retry-After). Polled one after another, a round is bound by waiting. Here
threads poll up to `Settings.fetch_concurrency` feeds at a time (the fetcher keeps each host's manners and
bounds the requests in flight over all hosts), and as each poll ends its pages go to the worker processes:
extraction first; once all of a feed's pages are extracted, its boilerplate is learned from the source's
history and those pages (exactly as a feed polled alone), then normalization and the NLP parse, in chunks.
So a round with news runs at the parse's pace, and a round without costs its conditional requests.

Same input, same stage: the rows are assembled in the order of the feed list, whatever order the polls
and the workers finish in, however many run at once. When pages wait for extraction faster than the
workers take them, no further poll starts until they catch up, so memory stays bounded.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from pipelines.config import EventConfig, Settings
from pipelines.http.fetcher import Fetcher
from pipelines.http.outcome import Outcome
from pipelines.nlp.annotate import PARSE_CHUNK, Annotations, annotate_chunk
from pipelines.nlp.entities import AliasRules, load_alias_rules
from pipelines.records import (
    ArticleDraft,
    ArticleRow,
    FeedState,
    Rejection,
    SourceDocument,
    final_statuses,
)
from pipelines.sources.feed_config import FeedConfig
from pipelines.sources.polling import FeedHistory, FeedPoll, feed_items, poll_feed
from pipelines.storage.feed_queries import seen_items
from pipelines.storage.history import stored_edges
from pipelines.storage.store import Store
from pipelines.text.articles import (
    ExtractedDraft,
    distinct_documents,
    extract_draft,
    finish_article,
    learn_rules,
)
from pipelines.text.boilerplate import BoilerplateRules, load_boilerplate_rules

log = logging.getLogger("newsflow.poll")

# Pages fetched and not yet extracted, at most, before the round holds back new polls (a page may be megabytes).
MAX_WAITING_PAGES = 256


@dataclass(frozen=True, slots=True)
class BuiltChunk:
    """Up to PARSE_CHUNK extracted pages of one feed, normalized and annotated by a worker."""

    rows: list[ArticleRow | Rejection]  # in page order
    annotations: list[Annotations]  # one per ArticleRow among `rows`, in order


def build_chunk(
    items: Sequence[ExtractedDraft],
    rules: BoilerplateRules,
    spacy_model: str,
    alias_rules: AliasRules,
    events: EventConfig,
) -> BuiltChunk:
    """A worker's second piece of a feed: normalize its pages with the feed's rules, then one parse for the chunk."""
    rows = [finish_article(item, rules) for item in items]
    articles = [row for row in rows if isinstance(row, ArticleRow)]
    return BuiltChunk(rows, annotate_chunk(articles, spacy_model, alias_rules, events) if articles else [])


@dataclass(slots=True)
class FeedWork:
    """One feed's way through the round: polled, its new pages extracted, then built in chunks."""

    feed: FeedConfig
    poll: FeedPoll | None = None
    known: set[str] = field(default_factory=set)  # inputs a load already stored: counted, not built again
    extracted: list[ExtractedDraft | None] = field(default_factory=list)
    chunks: list[BuiltChunk | None] = field(default_factory=list)
    pending: int = 0  # worker pieces not yet back
    tables: dict[str, list[Any]] = field(default_factory=dict)  # set once the feed is done


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What a round stages: the rows of every feed, in the feed list's order, and the counts for `ingest_runs`."""

    tables: dict[str, list[Any]]
    counts: dict[str, int]
    volume_sources: list[str]  # the feeds whose batch volume the gate checks: those that brought new items


class PollRound:
    """The round's bookkeeping, driven from one thread: polls run in threads, pages in `pool`.

    The snapshot `view` is read by the polls' threads (items seen before) and by this one (inputs stored
    before, boilerplate history); one lock keeps its connection to one statement at a time.
    """

    def __init__(
        self,
        settings: Settings,
        states: Mapping[str, FeedState],
        view: Store | None,
        fetcher: Fetcher,
        pool: Executor,
        run_id: str,
        now: datetime,
        scheduled_at: datetime | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> None:
        self.settings, self.states, self.view, self.fetcher, self.pool = settings, states, view, fetcher, pool
        self.run_id, self.now, self.scheduled_at = run_id, now, scheduled_at
        self.rules = load_boilerplate_rules(settings.boilerplate_file)
        self.alias_rules = load_alias_rules(settings.alias_file)
        self.history = stored_edges(view)
        self.lock = threading.Lock()
        self.running: dict[Future[Any], Callable[[Any], None]] = {}
        self.polls_running = 0
        self.waiting_pages = 0
        self.meanwhile = meanwhile
        self.meanwhile_thread: threading.Thread | None = None
        self.meanwhile_error: BaseException | None = None

    def run(self, feeds: Sequence[FeedConfig]) -> RoundResult:
        work = [FeedWork(feed) for feed in feeds]
        queue = deque(work)
        with ThreadPoolExecutor(self.settings.fetch_concurrency, thread_name_prefix="poll") as polls:
            try:
                while queue or self.running:
                    while (
                        queue
                        and self.polls_running < self.settings.fetch_concurrency
                        and self.waiting_pages < MAX_WAITING_PAGES
                    ):
                        feed_work = queue.popleft()
                        self.polls_running += 1
                        self.running[polls.submit(self.poll, feed_work.feed)] = partial(self.polled, feed_work)
                    done, _ = wait(self.running, return_when=FIRST_COMPLETED)
                    for future in done:
                        self.running.pop(future)(future.result())
            except BaseException:
                queue.clear()
                for future in self.running:
                    future.cancel()
                raise
            finally:
                self.join_meanwhile()
        return assemble(work)

    # --- the pieces, each handed on as it finishes ---------------------------------------------

    def poll(self, feed: FeedConfig) -> FeedPoll:
        """In a poll thread: the feed's conditional fetch, its items, and its new pages (the fetcher's manners)."""
        history = FeedHistory(self.states.get(feed.source_id), self.seen)
        return poll_feed(feed, history, self.fetcher, self.run_id, self.now, self.scheduled_at)

    def seen(self, source_id: str, keys: Sequence[str], urls: Sequence[str]) -> set[str]:
        if self.view is None:
            return set()
        with self.lock:
            return seen_items(self.view, source_id, list(keys), list(urls))

    def polled(self, work: FeedWork, poll: FeedPoll) -> None:
        self.polls_running -= 1
        work.poll = poll
        with self.lock:
            work.known = (
                self.view.existing("raw_documents", "raw_id", [raw.raw_id for raw in poll.batch.raw_documents])
                if self.view
                else set()
            )
        drafts: list[ArticleDraft] = [draft for draft in poll.batch.drafts if draft.raw_id not in work.known]
        poll.batch.drafts.clear()  # the pages live on only in the pieces handed to the workers
        if not drafts:
            self.finish(work)
            return
        self.start_meanwhile()
        work.extracted = [None] * len(drafts)
        work.pending = len(drafts)
        self.waiting_pages += len(drafts)
        for index, draft in enumerate(drafts):
            self.running[self.pool.submit(extract_draft, draft)] = partial(self.extracted, work, index)

    def extracted(self, work: FeedWork, index: int, item: ExtractedDraft) -> None:
        work.extracted[index] = item
        work.pending -= 1
        self.waiting_pages -= 1
        if work.pending:
            return
        extracted = [item for item in work.extracted if item is not None]
        with self.lock:
            rules = learn_rules(self.rules, extracted, self.history).get(work.feed.source_id, self.rules)
        chunks = [extracted[start : start + PARSE_CHUNK] for start in range(0, len(extracted), PARSE_CHUNK)]
        work.chunks = [None] * len(chunks)
        work.pending = len(chunks)
        for index, chunk in enumerate(chunks):
            future = self.pool.submit(
                build_chunk,
                chunk,
                rules,
                self.settings.spacy_model,
                self.alias_rules,
                self.settings.events,
            )
            self.running[future] = partial(self.built, work, index)

    def built(self, work: FeedWork, index: int, chunk: BuiltChunk) -> None:
        work.chunks[index] = chunk
        work.pending -= 1
        if not work.pending:
            self.finish(work)

    def finish(self, work: FeedWork) -> None:
        """The feed's rows, as a feed staged alone would have them, and its line in the log."""
        poll = work.poll
        assert poll is not None
        chunks = [chunk for chunk in work.chunks if chunk is not None]
        rows = [row for chunk in chunks for row in chunk.rows]
        annotated = Annotations.joined([part for chunk in chunks for part in chunk.annotations])
        articles = annotated.articles
        refused = [*(row for row in rows if isinstance(row, Rejection)), *annotated.rejections]
        rejections = [
            rejection for rejection in [*poll.batch.rejections, *refused] if rejection.raw_id not in work.known
        ]
        documents: list[SourceDocument] = distinct_documents([item for item in work.extracted if item is not None])
        work.extracted, work.chunks = [], []
        work.tables = {
            "sources": [poll.batch.source],
            "raw_documents": final_statuses(poll.batch.raw_documents, articles, rejections, work.known),
            "articles": articles,
            "quarantine": rejections,
            "source_documents": documents,
            **annotated.tables(),
            "feed_state": [poll.state],
            "fetch_events": poll.events,
            "feed_items": feed_items(poll, articles, rejections),
        }
        report(poll, len(articles), sum(1 for item in work.tables["feed_items"] if item.article_id is None))

    # --- the caller's own work, while the workers parse ----------------------------------------

    def start_meanwhile(self) -> None:
        """Run `meanwhile` (the CLI's imports for validating and loading) once there is a parse to overlap."""
        if self.meanwhile is None or self.meanwhile_thread is not None:
            return

        def run(task: Callable[[], object]) -> None:
            try:
                task()
            except BaseException as exc:
                self.meanwhile_error = exc

        self.meanwhile_thread = threading.Thread(target=run, args=(self.meanwhile,), name="meanwhile", daemon=True)
        self.meanwhile_thread.start()

    def join_meanwhile(self) -> None:
        if self.meanwhile_thread is not None:
            self.meanwhile_thread.join()
        if self.meanwhile_error is not None:
            raise self.meanwhile_error


def assemble(work: Sequence[FeedWork]) -> RoundResult:
    """Every feed's rows table by table, in the order of the feed list; the polls' counts summed."""
    tables: dict[str, list[Any]] = {}
    counts: dict[str, int] = {}
    volume_sources = []
    for feed_work in work:
        for name, rows in feed_work.tables.items():
            tables.setdefault(name, []).extend(rows)
        assert feed_work.poll is not None
        for name, value in feed_work.poll.counts.items():
            counts[name] = counts.get(name, 0) + value
        if feed_work.poll.counts.get("volume_checked"):
            volume_sources.append(feed_work.feed.source_id)
    return RoundResult(tables, counts, volume_sources)


def report(poll: FeedPoll, articles: int, refused: int) -> None:
    """One line per feed in the task's log: what the site answered, the items it listed, what became of the new ones."""
    state, counts = poll.state, poll.counts
    answer = f"HTTP {state.last_status}" if state.last_status else "no answer"
    outcome = state.last_outcome or ""
    if state.last_error:
        log.warning(
            "%s: %s %s, failure %d in a row, next poll %s: %s",
            state.name,
            answer,
            outcome,
            state.consecutive_failures,
            f"{state.next_poll_at:%Y-%m-%d %H:%M}Z",
            state.last_error,
        )
        return
    if outcome != Outcome.OK.value:
        log.info("%s: %s %s, nothing to read", state.name, answer, outcome)
        return
    new = len(poll.fresh)
    log.info(
        "%s: %s, %d items: %d new (%d articles staged, %d refused), %d seen before, %d deferred to the next poll",
        state.name,
        answer,
        counts.get("items_seen", 0),
        new,
        articles,
        refused,
        counts.get("items_already_seen", 0),
        counts.get("items_deferred", 0),
    )
