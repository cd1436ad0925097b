"""Quotes of an article from the parse the entity stage already made: marks, then attribution, then speakers.

Rows carry `method` = "rules-v1:<how>" (post-cue, post-verb, pre-cue, according-to, embedded, sentence-end,
dash, colon, continuation, after-statement, or learned: the quote model's second opinion, learned.py) and a
confidence: the speaker evidence (mention 0.9 … unresolved 0.3) times how direct the attribution was.
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from pipelines.ids import stable_id
from pipelines.nlp.quotes.attribution import (
    ATTRIBUTION_FACTOR,
    Attribution,
    attribute,
    reported_speech,
)
from pipelines.nlp.quotes.learned import METHODS as LEARNED_METHODS
from pipelines.nlp.quotes.learned import SpanJudge, quote_model, rescue
from pipelines.nlp.quotes.marks import QuoteSpan, locate_quotes
from pipelines.nlp.quotes.speakers import LOOKBACK_CHARS, SpeakerLog, build_context
from pipelines.records import ArticleText, Entity, EntityMention, Quote

if TYPE_CHECKING:
    from spacy.tokens import Doc

    from pipelines.nlp.model import ParsedArticle

METHOD_PREFIX = "rules-v1"
PARSE_CHECK_STRIDE = 50  # every 50th token is compared with the article text


def _is_parse_of(doc: Doc, text: str) -> bool:
    """Cheap check that `doc` was made from `text`: same length and sampled tokens in place (doc.text is slow)."""
    if not len(doc):
        return not text
    sample = (doc[i] for i in range(0, len(doc), PARSE_CHECK_STRIDE))
    return doc[-1].idx + len(doc[-1].text_with_ws) == len(text) and all(
        text.startswith(t.text, t.idx) for t in (*sample, doc[-1])
    )


def extract_quotes(
    doc: Doc,
    article: ArticleText,
    mentions: Sequence[EntityMention],
    entities: Mapping[str, Entity],
    judge: SpanJudge | None = None,
) -> list[Quote]:
    """Quotes of one article from its existing parse; `doc.text` must be `article.body_text`.

    `mentions` are the article's entity mentions (offsets into body_text) and `entities` maps their ids to
    canonical entities; a speaker is linked only through them. `judge` decides on the quotations no rule
    attributed: the committed model (learned.py) when None; training passes one that records them.
    """
    text = article.body_text
    if not _is_parse_of(doc, text):
        raise ValueError(f"doc is not the parse of article {article.article_id}'s body_text")
    layout = locate_quotes(doc, text)
    context = build_context(layout, mentions, entities)
    events = reported_speech(doc, layout.owner, context)
    # Reading order: by cue, and so by the start of the cue's sentence, where its speaker is.
    event_cues, event_sentences = [doc[e.cue].idx for e in events], [doc[e.cue].sent.start_char for e in events]
    judge = quote_model() if judge is None else judge
    quotes: list[Quote] = []
    attributed = SpeakerLog()  # the speakers of the quotes attributed so far
    previous: Attribution | None = None
    previous_ruled = False  # whether the rules attributed the quotation before this one
    for k, span in enumerate(layout.spans):
        if k not in layout.first:
            continue
        # The events a quote can use: a speaker before it, within the lookback (all of them in any ordinary
        # article); slicing them keeps a transcript's thousands of quotes from each scanning every event.
        near = events[
            bisect_left(event_cues, span.open_start - LOOKBACK_CHARS) : bisect_left(event_sentences, span.open_start)
        ]
        second_opinion = functools.partial(
            rescue, layout, k, judge=judge, previous_ruled=previous_ruled, event_offsets=event_cues, context=context
        )
        found = attribute(layout, k, previous, attributed.near(span.open_start), near, context, second_opinion)
        previous_ruled = found is not None and found.method not in LEARNED_METHODS
        if found is not None:
            attributed.add(found.speaker, span.open_start)
            quotes.append(_to_quote(article.article_id, span, text[span.start : span.end], found))
        if found is not None or previous is None or span.close_end > previous.region_end:
            previous = found  # a name inside the attribution (`said on "Meet the Press."`) does not end it
    return quotes


def extract_batch(
    parsed: Iterable[ParsedArticle], mentions: Iterable[EntityMention], entities: Iterable[Entity]
) -> list[Quote]:
    """Quotes of a parsed batch, given the entity stage's rows for it; an article with no parse has none."""
    by_article: dict[str, list[EntityMention]] = defaultdict(list)
    for mention in mentions:
        by_article[mention.article_id].append(mention)
    by_id = {entity.entity_id: entity for entity in entities}
    return [
        quote
        for item in parsed
        if item.doc is not None
        for quote in extract_quotes(item.doc, item.article, by_article[item.article.article_id], by_id)
    ]


def _to_quote(article_id: str, span: QuoteSpan, quote_text: str, attribution: Attribution) -> Quote:
    """The row for one attributed quote; confidence is the speaker's times how direct the attribution was."""
    speaker = attribution.speaker
    return Quote(
        quote_id=stable_id(article_id, span.start, span.end),
        article_id=article_id,
        quote_text=quote_text,
        start_char=span.start,
        end_char=span.end,
        speaker_text=speaker.text,
        speaker_start=speaker.start_char,
        speaker_end=speaker.end_char,
        speaker_entity_id=speaker.entity_id,
        cue=attribution.cue,
        kind=attribution.kind,
        confidence=round(speaker.confidence * ATTRIBUTION_FACTOR[attribution.method], 3),
        method=f"{METHOD_PREFIX}:{attribution.method}",
    )
