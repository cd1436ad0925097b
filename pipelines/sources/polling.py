"""Polling one feed: conditional fetch, parse, skip what was seen, fetch new article pages, make drafts.

`poll_feed` is pure apart from HTTP (through the `Fetcher` interface): the feed's history (state
and a lookup of items already seen) comes in as an argument, and out come the raw documents and
article drafts for the shared normalization path, plus the feed's rows for `store`. It never
normalizes: once the pipeline has built articles from the drafts, `feed_items` accounts for every
item taken: loaded or quarantined with a reason. Every item in the feed is accounted for once: new,
already seen, a duplicate inside the feed, deferred past `max_items` to the next poll, or without a key
(no GUID or id, no http(s) link: nothing to know it by next time); a sitemap's URLs (`kind: sitemap`,
read by `sitemaps`) may also be older than `max_age_days`, or undated. Each kind's reader is in
`pipelines.sources.kinds`; what follows the read is the same for every kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pipelines.http.outcome import FetchResult, Outcome
from pipelines.ids import stable_id
from pipelines.records import (
    NO_ARTICLE,
    ArticleDraft,
    ArticleRow,
    FeedItem,
    FeedState,
    FetchEvent,
    RawDocument,
    Rejection,
    Source,
    SourceBatch,
    Status,
)
from pipelines.sources.cadence import learn, newest_item, observe, poll_interval
from pipelines.sources.feed_config import FeedConfig
from pipelines.sources.feedparse import FeedEntry, entry_key, reason_text
from pipelines.sources.formats import decode_html
from pipelines.sources.kinds import KINDS
from pipelines.sources.listing import Listing, ListingWindow
from pipelines.urls import canonical_url_or_none

if TYPE_CHECKING:
    from pipelines.http.fetcher import Fetcher

MAX_BACKOFF = timedelta(hours=24)
UNCHANGED = "unchanged"  # feed_state.last_outcome: the body hashed as before, nothing to read

# (source_id, item keys, canonical urls) -> the keys and urls among them that were seen before
SeenLookup = Callable[[str, Sequence[str], Sequence[str]], set[str]]


@dataclass(frozen=True, slots=True)
class FeedHistory:
    """What earlier polls left, the incremental cursor: the feed's state (None if never polled) and seen items."""

    state: FeedState | None
    seen: SeenLookup


@dataclass(frozen=True, slots=True)
class FreshItem:
    """An item taken in this poll; whether it became an article is known only after normalization."""

    key: str
    guid: str | None
    url: str | None


@dataclass(slots=True)
class FeedPoll:
    """Everything one poll produced: the batch to normalize, the feed's rows, and counts for `ingest_runs`."""

    batch: SourceBatch
    run_id: str
    polled_at: datetime
    state: FeedState  # the feed's next state once the poll finished
    events: list[FetchEvent] = field(default_factory=list)
    fresh: list[FreshItem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    scheduled_at: datetime | None = None  # the tick the poll belongs to; the next one is due an interval after it
    published: list[datetime | None] = field(default_factory=list)  # the read items' dates: how often it publishes


def is_due(feed: FeedConfig, state: FeedState | None, now: datetime) -> bool:
    return feed.enabled and (state is None or state.next_poll_at is None or state.next_poll_at <= now)


def feed_source(feed: FeedConfig) -> Source:
    return Source(feed.source_id, feed.kind, feed.url, feed.name)


def backoff(interval: timedelta, failures: int, retry_after: float | None) -> timedelta:
    """The poll interval doubled per consecutive failure, capped at a day, never sooner than the server asked."""
    delay = min(interval * (2 ** min(failures, 16)), MAX_BACKOFF)
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def poll_feed(
    feed: FeedConfig,
    history: FeedHistory,
    fetcher: Fetcher,
    run_id: str,
    now: datetime,
    scheduled_at: datetime | None = None,
) -> FeedPoll:
    """Fetch the feed (conditionally) and, when it changed, the pages of its new items, as drafts.

    `scheduled_at` is the schedule's tick the poll runs for (a DAG run's logical time). The next poll is
    due one interval after the tick, not after the moment the poll started: a poll starts seconds after
    its tick, and the next tick, one interval later, would find it not yet due and skip a whole interval.
    """
    state = history.state or FeedState(feed.source_id, feed.url, feed.name)
    poll = FeedPoll(
        SourceBatch(feed_source(feed), [], [], []),
        run_id,
        now,
        state,
        counts={
            "feeds_polled": 1,
            "feeds_failed": 0,
            "items_seen": 0,
            "items_already_seen": 0,
            "items_without_key": 0,
            "pages_fetched": 0,
            "volume_checked": 0,
            "items_too_old": 0,
            "items_undated": 0,
        },
        scheduled_at=scheduled_at,
    )
    result = fetcher.fetch(feed.url, etag=state.etag, last_modified=state.last_modified)
    poll.events.append(_event(poll, feed.kind, result))
    if result.outcome is Outcome.NOT_MODIFIED:
        return _finish(poll, feed, state, result, outcome=Outcome.NOT_MODIFIED.value)
    if not result.ok:
        return _finish(poll, feed, state, result, error=result.note or result.outcome.value)
    body_hash = result.content_sha256
    if body_hash == state.last_body_hash:
        return _finish(poll, feed, state, result, outcome=UNCHANGED)

    raw = _raw(feed, result, now)
    # The kind's reader: a feed lists its items; a sitemap lists URLs without content, and an index is walked
    # to its recent sitemaps (each request recorded).
    window = ListingWindow(now, timedelta(days=feed.max_age_days), state.read_through_at)
    listing = KINDS[feed.kind].read(result, fetcher, window)
    parsed = listing.parsed
    if parsed.problem:
        reason = reason_text(parsed.problem, parsed.note)
        poll.batch.raw_documents.append(replace(raw, status=Status.QUARANTINED, reason=reason))
        poll.batch.rejections.append(Rejection(raw.raw_id, "parse", reason, feed.url))
        return _finish(poll, feed, state, result, error=reason)
    _record_parts(poll, feed, listing, now)
    if listing.failure:
        poll.batch.raw_documents.append(raw)
        return _finish(poll, feed, state, result, error=listing.failure)

    entries = list(parsed.entries)
    poll.published = [entry.published or entry.updated for entry in entries]
    keys = [entry_key(entry.guid, entry.link) for entry in entries]
    urls = [canonical_url_or_none(entry.link) for entry in entries]
    known = history.seen(feed.source_id, [k for k in keys if k], [u for u in urls if u])
    unseen = [
        (entry, key, url)
        for entry, key, url in zip(entries, keys, urls, strict=True)
        if key and key not in known and not (url and url in known)
    ]
    # max_items bounds the work of one poll; the newest unseen items go first, the rest wait for the next.
    fresh, deferred = unseen[: feed.max_items], unseen[feed.max_items :]
    poll.counts["items_seen"] = (
        len(entries) + parsed.duplicates + poll.counts["items_too_old"] + poll.counts["items_undated"]
    )
    poll.counts["items_without_key"] = keyless = sum(key is None for key in keys)
    poll.counts["items_already_seen"] = len(entries) - len(unseen) - keyless
    poll.counts["items_duplicate_in_feed"] = parsed.duplicates
    poll.counts["items_deferred"] = len(deferred)
    # Batch volume checks apply when the feed brought new items; a feed with nothing new is not "too few".
    poll.counts["volume_checked"] = int(bool(fresh))

    page_urls = list(dict.fromkeys(url for _, _, url in fresh if url))
    pages = dict(zip(page_urls, fetcher.fetch_many(page_urls), strict=True)) if page_urls else {}
    poll.counts["pages_fetched"] = len(pages)
    poll.events.extend(_event(poll, "page", page) for page in pages.values())

    for entry, key, url in fresh:
        page = pages.get(url) if url else None
        page_raw = _raw(feed, page, now) if page is not None and page.ok else None
        if page_raw:
            poll.batch.raw_documents.append(page_raw)
        if page_raw is None and not (entry.content_html or entry.summary_html):  # nothing to read: say why
            poll.batch.rejections.append(Rejection(raw.raw_id, "fetch", _unread(page), key))
        else:
            poll.batch.drafts.append(_draft(feed, parsed.title, entry, key, url, page, page_raw or raw, now))
        poll.fresh.append(FreshItem(key, entry.guid, url))
    poll.batch.raw_documents.append(raw)
    # With items deferred past max_items (or an index's sitemaps failed or left over), the validators are not
    # updated, so the next poll reads it again. An index listing sitemaps without <lastmod> is read every poll:
    # they change while the index does not; with every sitemap dated, an unchanged index is a 304.
    complete = not deferred and listing.complete
    return _finish(
        poll,
        feed,
        state,
        result,
        outcome=Outcome.OK.value,
        read_through=complete,
        remember_body=complete and listing.remember_body,
    )


def feed_items(poll: FeedPoll, articles: Sequence[ArticleRow], rejections: Sequence[Rejection]) -> list[FeedItem]:
    """Each item taken in `poll`, loaded if an article came of it, else quarantined with its rejection's reason."""
    loaded = {article.item_key: article.article_id for article in articles}
    refused = {rejection.detail: rejection.reason for rejection in rejections}
    return [
        FeedItem(
            poll.batch.source.source_id,
            item.key,
            item.guid,
            item.url,
            loaded.get(item.key),
            Status.LOADED if item.key in loaded else Status.QUARANTINED,
            None if item.key in loaded else refused.get(item.key, NO_ARTICLE),
            poll.polled_at,
            poll.run_id,
        )
        for item in poll.fresh
    ]


def _record_parts(poll: FeedPoll, feed: FeedConfig, listing: Listing, now: datetime) -> None:
    """The further parts a reader fetched (an index's sitemaps): a request each, and a raw document for each body
    read (quarantined when it is not what the kind lists); the kind's own counts join the run's."""
    for part in listing.parts:
        poll.events.append(_event(poll, feed.kind, part.result))
        if not part.read:
            continue
        raw = _raw(feed, part.result, now)
        if part.problem:
            poll.batch.raw_documents.append(replace(raw, status=Status.QUARANTINED, reason=part.problem))
            poll.batch.rejections.append(Rejection(raw.raw_id, "parse", part.problem, part.result.url))
        else:
            poll.batch.raw_documents.append(raw)
    poll.counts.update(listing.counts)


def _unread(page: FetchResult | None) -> str:
    """Why an item without content of its own became no article: its page could not be fetched, or it has none."""
    if page is None:
        return "item has no link to fetch and no content of its own"
    return f"page not fetched ({reason_text(page.outcome, page.note)}) and the item has no content"


def _draft(
    feed: FeedConfig,
    feed_title: str | None,
    entry: FeedEntry,
    key: str,
    url: str | None,
    page: FetchResult | None,
    raw: RawDocument,
    now: datetime,
) -> ArticleDraft:
    """The page when it was fetched, the item's own content as the fallback; dates reconciled."""
    html = decode_html(page.body) if page is not None and page.ok and page.body else None
    fallback = entry.content_html or entry.summary_html
    flags = [] if page is None or page.ok else [f"page_fetch_{page.outcome.value}"]
    return ArticleDraft(
        raw_id=raw.raw_id,
        source_id=feed.source_id,
        item_key=key,
        uri=url or feed.url,
        fetched_at=now,
        url=url,
        title=entry.title,
        html=html,
        fallback_html=fallback,
        published_at=entry.published or entry.updated,
        authors=entry.authors,
        language=entry.language or feed.language,
        outlet=feed.name or feed_title,
        flags=tuple(flags),
    )


def _raw(feed: FeedConfig, fetched: FetchResult, now: datetime) -> RawDocument:
    """A fetched body (the feed's, or a page's) as the provenance of what came from it."""
    digest = fetched.content_sha256
    return RawDocument(
        stable_id("raw", feed.source_id, fetched.final_url, digest),
        feed.source_id,
        fetched.final_url,
        now,
        digest,
        len(fetched.body or b""),
        fetched.headers.get("content-type"),
        Status.LOADED,
    )


def _event(poll: FeedPoll, kind: str, result: FetchResult) -> FetchEvent:
    """One request of the poll as its `fetch_events` row, at the time the request went out; the id is per run,
    so a later poll records its own."""
    return FetchEvent(
        stable_id(poll.run_id, kind, result.url),
        poll.run_id,
        poll.batch.source.source_id,
        result.url,
        kind,
        result.requested_at or poll.polled_at,
        result.status,
        result.outcome.value,
        result.bytes_read,
        result.elapsed_ms,
        result.note or None,
    )


def _next_poll(poll: FeedPoll, interval: timedelta, retry_after: float | None) -> datetime:
    """An interval after the poll's tick (its start when it has none), never before the server's Retry-After."""
    due = (poll.scheduled_at or poll.polled_at) + interval
    return max(due, poll.polled_at + timedelta(seconds=retry_after)) if retry_after else due


def _finish(
    poll: FeedPoll,
    feed: FeedConfig,
    state: FeedState,
    result: FetchResult,
    *,
    outcome: str | None = None,
    error: str | None = None,
    remember_body: bool = True,
    read_through: bool = False,
) -> FeedPoll:
    """The feed's next state: success resets the failure count, failure backs off (a broken feed never blocks others).

    The interval follows how often the feed publishes (`cadence`), learned from the dates of the items read
    and, once it is read or found unchanged, from how long it has been quiet. `read_through`: the poll took
    all the source listed (its `read_through_at` moves to this poll).
    """
    now = poll.polled_at
    failed = error is not None
    failures = state.consecutive_failures + 1 if failed else 0
    newest = newest_item(poll.published, state.newest_item_at, now)
    current = state.learned_minutes if state.learned_minutes is not None else feed.poll_minutes
    observed = None if failed else observe(poll.published, newest, current, feed.interval_bounds[1], now)
    learned = learn(state.learned_minutes, observed)
    interval = poll_interval(learned, feed.poll_minutes, feed.interval_bounds)
    keep = result.outcome is Outcome.NOT_MODIFIED or (not failed and not remember_body)
    poll.state = FeedState(
        source_id=feed.source_id,
        url=feed.url,
        name=feed.name,
        etag=state.etag if keep or failed else result.etag,
        last_modified=state.last_modified if keep or failed else result.last_modified,
        last_body_hash=state.last_body_hash
        if failed or not remember_body
        else (result.content_sha256 or state.last_body_hash),
        last_polled_at=now,
        next_poll_at=_next_poll(
            poll,
            backoff(interval, failures, result.retry_after_seconds) if failed else interval,
            result.retry_after_seconds,
        ),
        consecutive_failures=failures,
        last_status=result.status,
        last_outcome=result.outcome.value if failed else outcome,
        last_error=error,
        last_success_at=state.last_success_at if failed else now,
        learned_minutes=learned,
        newest_item_at=newest,
        read_through_at=now if read_through and not failed else state.read_through_at,
    )
    poll.counts["feeds_failed"] = int(failed)
    return poll
