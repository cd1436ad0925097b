"""From drafts to article rows: extraction, normalization, ids and flags, for one batch at a time.

The batch matters for one rule only: short lines repeated at the edges of many different documents
of one source are boilerplate. Everything else is per article.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pipelines.ids import sha256_hex, stable_id
from pipelines.records import ArticleDraft, ArticleRow, Rejection
from pipelines.text.boilerplate import BoilerplateRules, repeated_edge_lines
from pipelines.text.extract import (
    EXTRACTOR_PLAIN,
    Extracted,
    extract_fragment,
    extract_html,
    plain_text,
)
from pipelines.text.language import LanguageDetector
from pipelines.text.normalize import NormalizedText, normalize_paragraphs
from pipelines.text.paragraphs import split_paragraphs
from pipelines.urls import canonical_url_or_none

EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)
DATE_DISAGREEMENT = timedelta(days=2)
# articles.extractor when the page gave no text and the feed item's content was used instead
EXTRACTOR_FEED_CONTENT = "feed-content"


def article_id_for(draft: ArticleDraft, url: str | None) -> str:
    """By canonical URL when there is one (the same story from any file), else by its place in its source."""
    if url:
        return stable_id("url", url)
    return stable_id("item", draft.source_id, draft.item_key)


def build_articles(
    drafts: Sequence[ArticleDraft], rules: BoilerplateRules, detect: LanguageDetector
) -> tuple[list[ArticleRow], list[Rejection]]:
    """Extract and normalize a batch; a draft with no usable text becomes a rejection, never an empty article."""
    extracted: list[tuple[ArticleDraft, Extracted | None]] = [(draft, _extract(draft)) for draft in drafts]
    paragraphs = {id(draft): split_paragraphs(found.text) for draft, found in extracted if found}
    by_source: dict[str, list[list[str]]] = defaultdict(list)
    for draft, found in extracted:
        if found:
            by_source[draft.source_id].append(paragraphs[id(draft)])
    source_rules = {source: rules.with_repeated(repeated_edge_lines(docs)) for source, docs in by_source.items()}

    rows: list[ArticleRow] = []
    rejections: list[Rejection] = []
    for draft, found in extracted:
        if found is None:
            rejections.append(Rejection(draft.raw_id, "extract", "no article text could be extracted", draft.item_key))
            continue
        title = draft.title or found.title
        text = normalize_paragraphs(
            paragraphs[id(draft)],
            source_rules[draft.source_id],
            title=title,
            detect_title=found.extractor == EXTRACTOR_PLAIN,
            detect=detect,
        )
        if not text.body_text:
            rejections.append(
                Rejection(draft.raw_id, "normalize", "no article text left after removing title and boilerplate",
                          draft.item_key)
            )
            continue
        rows.append(_row(draft, found, text))
    return rows, rejections


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
    reported = draft.published_at or found.published_at
    date_flags = _date_flags(reported, draft.fetched_at)
    flags = [*draft.flags, *date_flags]
    if draft.published_at and found.published_at and abs(draft.published_at - found.published_at) > DATE_DISAGREEMENT:
        flags.append("date_disagreement")
    if text.title is None:
        flags.append("title_missing")
    if text.language.mixed:
        flags.append("mixed_language")
    dateline = text.dateline
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
