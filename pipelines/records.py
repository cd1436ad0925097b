"""Row types shared between stages, and the status of an input: one home for each (columns match schemas/migrations)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    """What became of an input (`raw_documents.status`) or a feed item (`feed_items.outcome`)."""

    READ = "read"  # read, not yet decided: becomes LOADED or QUARANTINED before it is staged
    LOADED = "loaded"
    SKIPPED = "skipped"
    QUARANTINED = "quarantined"


# The reason an input or a feed item is quarantined when no article came of it and no step said why.
NO_ARTICLE = "no article produced"


@dataclass(frozen=True, slots=True)
class Source:
    source_id: str
    kind: str
    uri: str
    name: str


@dataclass(frozen=True, slots=True)
class RawDocument:
    """Provenance of one input file, whatever became of it."""

    raw_id: str
    source_id: str
    uri: str
    fetched_at: datetime
    content_sha256: str | None
    byte_size: int | None
    media_type: str | None
    status: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """An article as read, before normalization: plain `text` or `html` (with `fallback_html` if that has no text)."""

    raw_id: str
    source_id: str
    item_key: str
    uri: str
    fetched_at: datetime
    url: str | None = None
    title: str | None = None
    text: str | None = None
    html: str | None = None
    published_at: datetime | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    outlet: str | None = None
    fallback_html: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input (a file, or one item of it) refused at `stage`, with the reason a person can act on."""

    raw_id: str
    stage: str
    reason: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One distinct document a source gave, by its short opening and closing lines: what boilerplate is learned from."""

    source_id: str
    document_hash: str  # of its extracted paragraphs: a document seen again (a re-run, a re-fetch) counts once
    edge_lines: list[str]  # line keys of its short first and last paragraphs


@dataclass(frozen=True, slots=True)
class ArticleRow:
    """One article as staged for loading; columns match `articles` in schemas/ (the store adds run bookkeeping)."""

    article_id: str
    raw_id: str
    source_id: str
    item_key: str
    url: str | None
    uri: str
    title: str | None
    title_missing: bool
    alt_title: str | None
    alt_title_language: str | None
    subtitle: str | None
    byline: str | None
    authors: list[str]
    outlet: str | None
    published_at: datetime | None
    published_at_reported: datetime | None
    dateline_text: str | None
    dateline_place: str | None
    dateline_agency: str | None
    dateline_month: int | None
    dateline_day: int | None
    dateline_year: int | None
    language: str | None
    language_confidence: float
    languages: list[str]
    mixed_language: bool
    body_text: str
    word_count: int
    content_hash: str
    fetched_at: datetime
    extractor: str
    flags: list[str] = field(default_factory=list)
    nlp_skip_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ArticleText:
    """What the NLP stages read of an article: `body_text` is paragraphs joined by blank lines, no title or dateline."""

    article_id: str
    body_text: str
    language: str | None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    """One real-world entity; `entity_id` is derived from a normalized key so every run agrees on it."""

    entity_id: str
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class EntityAlias:
    entity_id: str
    alias: str


@dataclass(frozen=True, slots=True)
class EntityMention:
    """A mention; `body_text[start_char:end_char] == mention_text` (0-based Python indices)."""

    article_id: str
    entity_id: str
    mention_text: str
    start_char: int
    end_char: int
    sentence_index: int
    label: str


@dataclass(frozen=True, slots=True)
class ArticleTerms:
    """One article version's salient terms (pipelines.nlp.terms), heaviest first, weights of unit length:
    what the load's events step compares articles on."""

    article_id: str
    raw_id: str
    terms: list[str]
    weights: list[float]
    specifics: list[str]  # its rare words among `terms`, lowercase, sorted: names and places
    principal: str | None  # the person it names most often (pipelines.nlp.terms.participants)
    people: list[str]  # the last word of every person it names, lowercase, sorted


@dataclass(frozen=True, slots=True)
class Quote:
    """A quotation and its speaker; offsets index `articles.body_text`, speaker offsets may be None when implicit."""

    quote_id: str
    article_id: str
    quote_text: str
    start_char: int
    end_char: int
    speaker_text: str | None
    speaker_start: int | None
    speaker_end: int | None
    speaker_entity_id: str | None
    cue: str | None
    kind: str  # "direct" or "partial"
    confidence: float
    method: str


# --- feeds: polling state and accounting (tables feed_state, fetch_events, feed_items) ---------


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed's polling state as stored in `feed_state`: the incremental cursor a poll reads and writes."""

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
    learned_minutes: float | None = None  # how often it publishes, learned from its items' dates (sources.cadence)
    newest_item_at: datetime | None = None  # the newest item date read so far: how long the feed has been quiet
    read_through_at: datetime | None = None  # the last poll that took all the source listed (sitemap lastmods)


@dataclass(frozen=True, slots=True)
class FetchEvent:
    """One HTTP request of a poll (`kind` 'feed' or 'page'), whatever its outcome."""

    event_id: str
    run_id: str
    source_id: str
    url: str
    kind: str
    at: datetime
    http_status: int | None
    outcome: str
    bytes: int
    elapsed_ms: int
    note: str | None


@dataclass(frozen=True, slots=True)
class FeedItem:
    """A feed item the first time it was taken: the article it became, or why it became none."""

    source_id: str
    item_key: str
    guid: str | None
    url: str | None
    article_id: str | None
    outcome: Status
    reason: str | None
    first_seen_at: datetime
    run_id: str


# --- what a reader hands on ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """What reading one source produced, before normalization: every input, its drafts, and its refusals.

    Folder files and feed items alike end here, so one path (build articles, annotate, stage) serves both.
    """

    source: Source
    raw_documents: list[RawDocument]
    drafts: list[ArticleDraft]
    rejections: list[Rejection]


def final_statuses(
    raws: Sequence[RawDocument], articles: Sequence[ArticleRow], rejections: Sequence[Rejection], known: Collection[str]
) -> list[RawDocument]:
    """An input still 'read' is 'loaded' when an article came from it, else quarantined with its items' reasons.

    Inputs already decided by their reader (skipped, quarantined, a fetched feed or page) or loaded before
    (`known`) keep their status.
    """
    loaded = {article.raw_id for article in articles}
    reasons: dict[str, list[str]] = {}
    for rejection in rejections:
        reasons.setdefault(rejection.raw_id, []).append(rejection.reason)
    final = []
    for raw in raws:
        if raw.status != Status.READ or raw.raw_id in known:
            final.append(raw)
        elif raw.raw_id in loaded:
            final.append(replace(raw, status=Status.LOADED))
        else:
            why = "; ".join(dict.fromkeys(reasons.get(raw.raw_id, [NO_ARTICLE])))
            final.append(replace(raw, status=Status.QUARANTINED, reason=why))
    return final
