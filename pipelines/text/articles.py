"""From drafts to article rows: extraction, normalization, ids and flags.

Everything is per article except one rule: short lines repeated at the edges of many different
documents of one source are boilerplate, learned from the source's history and the batch between
the two per-article rounds (`extract_draft`, then `finish_articles`), which may run in worker processes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from pipelines.failures import refusal
from pipelines.ids import sha256_hex, stable_id
from pipelines.records import ArticleDraft, ArticleRow, Rejection, SourceDocument
from pipelines.text.boilerplate import (
    BoilerplateRules,
    SourceHistory,
    no_history,
    repeated_lines,
    short_lines,
    source_document,
)
from pipelines.text.datelines import dateline_date
from pipelines.text.extract import (
    EXTRACTOR_PLAIN,
    Extracted,
    extract_fragment,
    extract_html,
    plain_text,
)
from pipelines.text.language import language_detector
from pipelines.text.normalize import NormalizedText, normalize_paragraphs
from pipelines.text.paragraphs import split_paragraphs
from pipelines.urls import canonical_url_or_none
from pipelines.workers import Mapper

EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)
DATE_DISAGREEMENT = timedelta(days=2)
# Flags of a published_at taken from the dateline (the input gave no other date): its year stated, or inferred.
PUBLISHED_FROM_DATELINE = "published_at_from_dateline"
DATELINE_YEAR_INFERRED = "published_at_year_inferred"
# articles.extractor when the page gave no text and the feed item's content was used instead
EXTRACTOR_FEED_CONTENT = "feed-content"


def article_id_for(draft: ArticleDraft, url: str | None) -> str:
    """By canonical URL when there is one (the same story from any file), else by its place in its source."""
    if url:
        return stable_id("url", url)
    return stable_id("item", draft.source_id, draft.item_key)


@dataclass(frozen=True, slots=True)
class ExtractedDraft:
    """A draft after extraction (a worker's first round): its text as paragraphs, or None when it had none
    (`failure`: why, when extraction failed on it)."""

    draft: ArticleDraft
    found: Extracted | None
    paragraphs: list[str]
    document: SourceDocument | None
    failure: str | None = None


def extract_draft(draft: ArticleDraft) -> ExtractedDraft:
    """The draft's text as paragraphs; its page or text is dropped, so workers do not send it back and forth.

    Never raises for the draft's own sake: an unforeseen error becomes its `failure` (see `pipelines.failures`).
    """
    bare = replace(draft, text=None, html=None, fallback_html=None)
    try:
        found = _extract(draft)
        paragraphs = split_paragraphs(found.text) if found else []
    except Exception as exc:
        return ExtractedDraft(bare, None, [], None, refusal("extracting", exc, draft.uri))
    return ExtractedDraft(bare, found, paragraphs, source_document(draft.source_id, paragraphs) if found else None)


def learn_rules(
    rules: BoilerplateRules, extracted: Sequence[ExtractedDraft], history: SourceHistory = no_history
) -> dict[str, BoilerplateRules]:
    """Each source's rules: the reviewed patterns plus the lines its history and this batch repeat."""
    documents: dict[str, list[SourceDocument]] = defaultdict(list)
    wanted: dict[str, set[str]] = defaultdict(set)
    for item in extracted:
        if item.document:
            documents[item.draft.source_id].append(item.document)
            wanted[item.draft.source_id] |= short_lines(item.paragraphs)
    learned = {}
    for source, docs in documents.items():
        stored = history(source, sorted(wanted[source]), sorted({doc.document_hash for doc in docs}))
        learned[source] = rules.with_repeated(repeated_lines(stored, docs))
    return learned


def finish_article(item: ExtractedDraft, rules: BoilerplateRules) -> ArticleRow | Rejection:
    """Normalize one extracted draft with its source's rules; no usable text is a rejection, never an empty article,
    and neither is an unforeseen error (see `pipelines.failures`)."""
    draft, found = item.draft, item.found
    if found is None:
        return Rejection(draft.raw_id, "extract", item.failure or "no article text could be extracted", draft.item_key)
    try:
        title = draft.title or found.title
        text = normalize_paragraphs(
            item.paragraphs,
            rules,
            title=title,
            detect_title=found.extractor == EXTRACTOR_PLAIN,
            detect=language_detector(),
        )
        row = _row(draft, found, text) if text.body_text else None
    except Exception as exc:
        return Rejection(draft.raw_id, "normalize", refusal("normalizing", exc, draft.uri), draft.item_key)
    if row is None:
        return Rejection(
            draft.raw_id, "normalize", "no article text left after removing title and boilerplate", draft.item_key
        )
    return row


@dataclass(frozen=True, slots=True)
class BuiltArticles:
    articles: list[ArticleRow]
    rejections: list[Rejection]
    documents: list[SourceDocument]  # the batch's distinct documents per source, for the boilerplate history


def finish_articles(
    extracted: Sequence[ExtractedDraft],
    rules: BoilerplateRules,
    history: SourceHistory = no_history,
    map_: Mapper = map,
) -> BuiltArticles:
    """Learn each source's repeated lines from the extracted batch, then normalize; `map_` may run it in workers.

    Only the learning sees the whole batch, so the result is the same whatever runs the rounds.
    """
    learned = learn_rules(rules, extracted, history)
    built = list(map_(finish_article, extracted, [learned.get(item.draft.source_id, rules) for item in extracted]))
    return BuiltArticles(
        [row for row in built if isinstance(row, ArticleRow)],
        [row for row in built if isinstance(row, Rejection)],
        distinct_documents(extracted),
    )


def distinct_documents(extracted: Sequence[ExtractedDraft]) -> list[SourceDocument]:
    """The batch's distinct documents per source, in a stable order: what the boilerplate history stores."""
    documents = {
        (item.document.source_id, item.document.document_hash): item.document for item in extracted if item.document
    }
    return [documents[key] for key in sorted(documents)]


def _extract(draft: ArticleDraft) -> Extracted | None:
    """The draft's own text or page; a feed item's content stands in when its page yields no text."""
    if draft.text is not None:
        return plain_text(draft.text)
    found = extract_html(draft.html, draft.url) if draft.html else None
    if found is None and draft.fallback_html:
        fallback = extract_fragment(draft.fallback_html)
        return replace(fallback, extractor=f"{EXTRACTOR_FEED_CONTENT}:{fallback.extractor}") if fallback else None
    return found


def _row(draft: ArticleDraft, found: Extracted, text: NormalizedText) -> ArticleRow:
    url = canonical_url_or_none(draft.url or found.url)
    dateline = text.dateline
    reported = draft.published_at or found.published_at
    from_dateline = dateline_date(dateline, draft.fetched_at) if reported is None and dateline else None
    if from_dateline:  # no date but the dateline's: kept, and said so (below)
        reported, year_inferred = from_dateline
    date_flags = _date_flags(reported, draft.fetched_at)
    flags = [*draft.flags, *date_flags]
    if from_dateline:
        flags.append(DATELINE_YEAR_INFERRED if year_inferred else PUBLISHED_FROM_DATELINE)
    if draft.published_at and found.published_at and abs(draft.published_at - found.published_at) > DATE_DISAGREEMENT:
        flags.append("date_disagreement")
    if text.title is None:
        flags.append("title_missing")
    if text.language.mixed:
        flags.append("mixed_language")
    body = text.body_text
    return ArticleRow(
        article_id=article_id_for(draft, url),
        raw_id=draft.raw_id,
        source_id=draft.source_id,
        item_key=draft.item_key,
        url=url,
        uri=draft.uri,
        title=text.title,
        title_missing=text.title is None,
        alt_title=text.alt_title,
        alt_title_language=text.alt_title_language,
        subtitle=text.subtitle,
        byline=text.byline,
        authors=list(draft.authors or found.authors or ((text.byline,) if text.byline else ())),
        outlet=draft.outlet or found.sitename or (dateline.agency if dateline else None),
        published_at=None if date_flags else reported,
        published_at_reported=reported,
        dateline_text=dateline.text if dateline else None,
        dateline_place=dateline.place if dateline else None,
        dateline_agency=dateline.agency if dateline else None,
        dateline_month=dateline.month if dateline else None,
        dateline_day=dateline.day if dateline else None,
        dateline_year=dateline.year if dateline else None,
        language=text.language.language or _language_code(draft.language or found.language),
        language_confidence=text.language.confidence,
        languages=text.language.languages,
        mixed_language=text.language.mixed,
        body_text=body,
        word_count=len(body.split()),
        content_hash=sha256_hex(f"{text.title or ''}\n\n{body}"),
        fetched_at=draft.fetched_at,
        extractor=found.extractor,
        flags=flags,
    )


def _date_flags(published: datetime | None, fetched_at: datetime) -> list[str]:
    """Implausible dates are kept in published_at_reported and flagged, and left out of published_at."""
    if published is None:
        return []
    if published > fetched_at + CLOCK_SKEW:
        return ["published_at_in_future"]
    if published < EARLIEST_PLAUSIBLE:
        return ["published_at_before_1990"]
    return []


def _language_code(tag: str | None) -> str | None:
    """'en-US' and 'EN_gb' to 'en'; anything that is not a two-letter ISO 639-1 code (e.g. 'zxx') is no language."""
    if not tag:
        return None
    code = tag.replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None
