"""Polling one feed: conditional fetch, parse, skip what was seen, fetch new article pages, build rows.

`poll_feed` is pure apart from HTTP (through the `Fetcher` interface): feed state and the items
already seen come in as arguments, and everything to persist comes out as rows for `store`.
Every item in the feed is accounted for once: new (loaded or quarantined with a reason), already
seen, a duplicate inside the feed, or deferred past `max_items` to the next poll.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.http.fetch import Fetcher, FetchResult, Outcome, entry_key, parse_feed
from pipelines.ids import stable_id
from pipelines.records import (
    ArticleDraft,
    ArticleRow,
    RawDocument,
    Rejection,
    Source,
    Status,
)
from pipelines.sources.feed_config import FeedConfig
from pipelines.text.articles import build_articles
from pipelines.text.normalize import BoilerplateRules, LanguageDetector
from pipelines.urls import canonical_url_or_none

MAX_BACKOFF = timedelta(hours=24)

# (source_id, item keys, canonical urls) -> the keys and urls among them that were seen before
SeenLookup = Callable[[str, Sequence[str], Sequence[str]], set[str]]


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed's polling state as stored in `feed_state` (None for a feed never polled)."""

    source_id: str
    url: str
    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_body_hash: str | None = None
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0
    last_status: int | None = None
    last_outcome: str | None = None
    last_error: str | None = None
    last_success_at: datetime | None = None


@dataclass(slots=True)
class FeedPoll:
    """Everything one poll produced, as rows per staged table, plus counts for `ingest_runs`."""

    tables: dict[str, list[Any]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def is_due(feed: FeedConfig, state: FeedState | None, now: datetime) -> bool:
    return feed.enabled and (state is None or state.next_poll_at is None or state.next_poll_at <= now)


def feed_source(feed: FeedConfig) -> Source:
    return Source(feed.source_id, "feed", feed.url, feed.name)


def backoff(feed: FeedConfig, failures: int, retry_after: float | None) -> timedelta:
    """The poll interval doubled per consecutive failure, capped at a day, never sooner than the server asked."""
    delay = min(timedelta(minutes=feed.poll_minutes) * (2 ** min(failures, 16)), MAX_BACKOFF)
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def poll_feed(
    feed: FeedConfig,
    state: FeedState | None,
    fetcher: Fetcher,
    seen: SeenLookup,
    run_id: str,
    rules: BoilerplateRules,
    detect: LanguageDetector,
    now: datetime | None = None,
) -> FeedPoll:
    now = now or datetime.now(UTC)
    state = state or FeedState(feed.source_id, feed.url, feed.name)
    poll = FeedPoll(tables={"sources": [feed_source(feed)], "fetch_events": [], "feed_state": [], "raw_documents": [],
                            "articles": [], "quarantine": [], "feed_items": []},
                    counts={"feeds_polled": 1, "feeds_failed": 0, "items_seen": 0, "items_already_seen": 0,
                            "pages_fetched": 0, "volume_checked": 0})
    result = fetcher.fetch(feed.url, etag=state.etag, last_modified=state.last_modified)
    poll.tables["fetch_events"].append(_event(run_id, feed.source_id, "feed", result, now))
    if result.outcome is Outcome.NOT_MODIFIED:
        return _finish(poll, feed, state, result, now, outcome="not_modified")
    if not result.ok:
        return _finish(poll, feed, state, result, now, error=result.note or result.outcome.value)
    body_hash = result.content_sha256
    if body_hash == state.last_body_hash:
        return _finish(poll, feed, state, result, now, outcome="unchanged")

    raw = RawDocument(stable_id("raw", feed.source_id, feed.url, body_hash), feed.source_id, feed.url, now,
                      body_hash, len(result.body or b""), result.headers.get("content-type"), Status.LOADED)
    parsed = parse_feed(result)
    if parsed.problem:
        reason = f"{parsed.problem.value}: {parsed.note}" if parsed.note else parsed.problem.value
        poll.tables["raw_documents"].append(replace(raw, status=Status.QUARANTINED, reason=reason))
        poll.tables["quarantine"].append(Rejection(raw.raw_id, "parse", reason, feed.url))
        return _finish(poll, feed, state, result, now, error=reason)

    entries = list(parsed.entries)
    keys = [entry_key(entry.guid, entry.link) for entry in entries]
    urls = [canonical_url_or_none(entry.link) for entry in entries]
    known = seen(feed.source_id, [k for k in keys if k], [u for u in urls if u])
    unseen = [(entry, key, url) for entry, key, url in zip(entries, keys, urls, strict=True)
              if key and key not in known and not (url and url in known)]
    # max_items bounds the work of one poll; the newest unseen items go first, the rest wait for the next.
    fresh, deferred = unseen[: feed.max_items], unseen[feed.max_items :]
    poll.counts["items_seen"] = len(entries) + parsed.duplicates
    poll.counts["items_already_seen"] = len(entries) - len(unseen)
    poll.counts["items_duplicate_in_feed"] = parsed.duplicates
    poll.counts["items_deferred"] = len(deferred)
    # Batch volume checks apply when the feed brought new items; a feed with nothing new is not "too few".
    poll.counts["volume_checked"] = int(bool(fresh))

    page_urls = list(dict.fromkeys(url for _, _, url in fresh if url))
    pages = dict(zip(page_urls, fetcher.fetch_many(page_urls), strict=True)) if page_urls else {}
    poll.counts["pages_fetched"] = len(pages)
    poll.tables["fetch_events"].extend(_event(run_id, feed.source_id, "page", page, now) for page in pages.values())

    drafts: list[ArticleDraft] = []
    for entry, key, url in fresh:
        page = pages.get(url) if url else None
        page_raw = _page_raw(feed, page, now) if page is not None and page.ok else None
        if page_raw:
            poll.tables["raw_documents"].append(page_raw)
        drafts.append(_draft(feed, parsed.title, entry, key, url, page, page_raw or raw, now))
    articles, rejections = build_articles(drafts, rules, detect)
    poll.tables["articles"].extend(articles)
    poll.tables["quarantine"].extend(rejections)
    poll.tables["raw_documents"].append(raw)
    poll.tables["feed_items"].extend(_items(feed, fresh, articles, rejections, run_id, now))
    # With items deferred past max_items, forget the validators so the next poll reads the feed again.
    return _finish(poll, feed, state, result, now, outcome="ok", remember_body=not deferred)


def _draft(feed: FeedConfig, feed_title: str | None, entry: Any, key: str, url: str | None,
           page: FetchResult | None, raw: RawDocument, now: datetime) -> ArticleDraft:
    """The page when it was fetched, the item's own content as the fallback; dates reconciled."""
    html = _decode(page.body) if page is not None and page.ok and page.body else None
    fallback = entry.content_html or entry.summary_html
    flags = [] if page is None or page.ok else [f"page_fetch_{page.outcome.value}"]
    return ArticleDraft(
        raw_id=raw.raw_id, source_id=feed.source_id, item_key=key, uri=url or feed.url, fetched_at=now,
        url=url, title=entry.title, html=html, fallback_html=fallback,
        published_at=entry.published or entry.updated, authors=entry.authors,
        language=entry.language or feed.language, outlet=feed.name or feed_title, flags=tuple(flags),
    )


def _decode(body: bytes) -> str:
    from trafilatura.utils import decode_file

    return decode_file(body)


def _page_raw(feed: FeedConfig, page: FetchResult, now: datetime) -> RawDocument:
    digest = page.content_sha256
    return RawDocument(stable_id("raw", feed.source_id, page.final_url, digest), feed.source_id, page.final_url, now,
                       digest, len(page.body or b""), page.headers.get("content-type"), Status.LOADED)


def _items(feed: FeedConfig, fresh: list[tuple[Any, str, str | None]], articles: list[ArticleRow],
           rejections: list[Rejection], run_id: str, now: datetime) -> list[dict[str, Any]]:
    loaded = {article.item_key: article.article_id for article in articles}
    refused = {rejection.detail: rejection.reason for rejection in rejections}
    rows = []
    for entry, key, url in fresh:
        outcome = Status.LOADED if key in loaded else Status.QUARANTINED
        rows.append({"source_id": feed.source_id, "item_key": key, "guid": entry.guid, "url": url,
                     "article_id": loaded.get(key), "outcome": outcome,
                     "reason": None if key in loaded else refused.get(key, "no article produced"),
                     "first_seen_at": now, "run_id": run_id})
    return rows


def _event(run_id: str, source_id: str, kind: str, result: FetchResult, now: datetime) -> dict[str, Any]:
    return {"event_id": stable_id(run_id, kind, result.url), "run_id": run_id, "source_id": source_id,
            "url": result.url, "kind": kind, "at": now, "http_status": result.status,
            "outcome": result.outcome.value, "bytes": result.bytes_read, "elapsed_ms": result.elapsed_ms,
            "note": result.note or None}


def _finish(poll: FeedPoll, feed: FeedConfig, state: FeedState, result: FetchResult, now: datetime, *,
            outcome: str | None = None, error: str | None = None, remember_body: bool = True) -> FeedPoll:
    """The feed's next state: success resets the failure count, failure backs off (a broken feed never blocks others)."""
    failed = error is not None
    failures = state.consecutive_failures + 1 if failed else 0
    keep = result.outcome is Outcome.NOT_MODIFIED or (not failed and not remember_body)
    next_state = {
        "source_id": feed.source_id, "url": feed.url, "name": feed.name,
        "etag": state.etag if keep or failed else result.etag,
        "last_modified": state.last_modified if keep or failed else result.last_modified,
        "last_body_hash": state.last_body_hash if failed or not remember_body else (result.content_sha256 or state.last_body_hash),
        "last_polled_at": now,
        "next_poll_at": now + (backoff(feed, failures, result.retry_after_seconds) if failed
                               else timedelta(minutes=feed.poll_minutes)),
        "consecutive_failures": failures, "last_status": result.status,
        "last_outcome": result.outcome.value if failed else outcome, "last_error": error,
        "last_success_at": state.last_success_at if failed else now,
    }
    poll.tables["feed_state"].append(next_state)
    poll.counts["feeds_failed"] = int(failed)
    return poll
