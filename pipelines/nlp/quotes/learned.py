"""A second opinion on the quotations the rules leave unattributed: a small logistic model over parse features.

The rules attribute a quotation only when they find its cue, and the cues of news are many ("groused", "shot
back", "in Bolton's view", a tweet quoted two sentences after its author). Yet most quotation marks of three or
more words in news hold someone's words (95 % in PolNeAR's training split): what tells speech from a title or
a scare quote is the form of the quotation and of the clause around it, which `span_features` describes
without naming any word of the narration but function words. `QuoteModel` weighs those features; its weights
are learned from PolNeAR's training split by `newsflow train quotes` (pipelines/evaluation/quote_training.py) and
kept beside this module (quote_model.json, a few kilobytes); nothing is trained at run time.

A quotation the model accepts is kept when a person of the article is the subject of the sentence it sits in
(`clause_speaker`), who is then its speaker: `Ryan worried that the safety net was becoming "a hammock …"`
(method `learned`). A subject that is no person agreed with the gold about as often (68 %) but took names and
scare quotes whose sentence has an organisation or a pronoun for subject (`The company will launch its "next
generation of …"`), so it counts only where a colon closes its clause right before a quotation that states
something (`announcing_subject`): the colon announces the quotation, and documents, statements and groups
speak there as often as people (`A footnote in the report makes that clear: "…"`, method `learned-colon`).
Otherwise it is kept for the speaker attributed last before it in its paragraph (method
`learned-paragraph`): a quotation standing in a paragraph about what someone said is most often theirs. On
PolNeAR's train split the three took 119, 17 and 52 quotations, 97.5 %, 100 % and 96 % of them speech, and
their speaker agreed with the gold one for 95 %, 75 % and 73 %: the last two count (a reader searching quotes
finds them), with a lower confidence (attribution.ATTRIBUTION_FACTOR) that says their speaker is a likely guess.
"""

from __future__ import annotations

import functools
import json
import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pipelines.nlp.quotes.attribution import Attribution
from pipelines.nlp.quotes.colons import announces
from pipelines.nlp.quotes.marks import PARAGRAPH_BREAK, Layout, QuoteSpan
from pipelines.nlp.quotes.phrases import is_characterizing, is_cue, outermost_subject, phrase_of, states_usage
from pipelines.nlp.quotes.regions import (
    quote_kind,
    quotes_a_clause,
    states_something,
    title_cased,
    words_of,
)
from pipelines.nlp.quotes.speakers import WORD_RE, Context, Speaker, entity_type, resolve_speaker

if TYPE_CHECKING:
    from spacy.tokens import Token

MODEL_FILE = Path(__file__).with_name("quote_model.json")
METHOD = "learned"  # the subject of its sentence is a person of the article
COLON_METHOD = "learned-colon"  # no such subject, but the clause's subject, whoever it is, announces it
PARAGRAPH_METHOD = "learned-paragraph"  # no subject at all: the speaker attributed last in its paragraph
METHODS = frozenset({METHOD, COLON_METHOD, PARAGRAPH_METHOD})
MIN_WORDS = 3  # shorter quotations are names and scare quotes far more often than speech: never rescued
PERSONAL_WORDS = frozenset({"i", "me", "my", "we", "us", "our", "you", "your"})  # speech addresses someone
FUNCTION_POS = frozenset({"ADP", "SCONJ", "DET", "PART", "PUNCT", "AUX", "CCONJ"})  # their words are features
ENDINGS: Mapping[str, str] = {".": "stop", "…": "stop", "?": "ask", "!": "ask", ",": "comma"}
QUOTE_WORD_BUCKETS = (3, 4, 6, 10, 20, 40)
REGION_WORD_BUCKETS = (0, 1, 2, 4, 8, 16)
REGION_TOKENS = 2  # the last tokens of the clause before and the first after the quotation
PERSON = "PERSON"
MAX_SCORE = 50.0  # a logit beyond this is certainty either way; math.exp would overflow on a hand-edited file


class SpanJudge(Protocol):
    """Decides from a quotation's features whether it is speech; `QuoteModel`, or a recorder in training."""

    def accepts(self, span: QuoteSpan, features: Sequence[str]) -> bool: ...


@dataclass(frozen=True, slots=True)
class QuoteModel:
    """Logistic weights per feature; a quotation is speech when its probability reaches `threshold`."""

    weights: Mapping[str, float]
    bias: float
    threshold: float

    def probability(self, features: Sequence[str]) -> float:
        score = self.bias + sum(self.weights.get(feature, 0.0) for feature in set(features))
        return 1.0 / (1.0 + math.exp(-max(-MAX_SCORE, min(MAX_SCORE, score))))

    def accepts(self, span: QuoteSpan, features: Sequence[str]) -> bool:
        return self.probability(features) >= self.threshold


@functools.cache
def quote_model(path: Path = MODEL_FILE) -> QuoteModel:
    """The committed model; a missing or malformed file fails here, naming it and the command that rebuilds it."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        return QuoteModel(
            {str(k): float(v) for k, v in spec["weights"].items()}, float(spec["bias"]), float(spec["threshold"])
        )
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path}: not a quote model ({exc}); rebuild it with `make quote-model`") from exc


def _bucket(n: int, edges: Sequence[int]) -> int:
    return max((e for e in edges if n >= e), default=edges[0])


def span_features(
    layout: Layout, k: int, head: Sequence[Token], tail: Sequence[Token], events_before: int, previous_ruled: bool
) -> list[str]:
    """What the model reads of quotation k: its own form, the clause around it (parts of speech, dependencies and
    function words only) and the discourse (a reporting verb earlier in the paragraph, the quote before it)."""
    span, text = layout.spans[k], layout.text
    quote_text = text[span.start : span.end]
    words = WORD_RE.findall(quote_text)
    head_words, tail_words = words_of(head), words_of(tail)
    paragraph_start = text.rfind(PARAGRAPH_BREAK, 0, span.open_start) + 1
    features = [
        f"qwords={_bucket(len(words), QUOTE_WORD_BUCKETS)}",
        f"qend={ENDINGS.get(quote_text.rstrip()[-1:], 'other')}",
        f"qcap={quote_text[:1].isupper()}",
        f"qtitle={title_cased(quote_text)}",
        f"qclause={quotes_a_clause(layout, k)}",
        f"qpersonal={any(w.lower() in PERSONAL_WORDS for w in words)}",
        f"head={_bucket(len(head_words), REGION_WORD_BUCKETS)}",
        f"tail={_bucket(len(tail_words), REGION_WORD_BUCKETS)}",
        f"headcue={any(is_cue(t) for t in head)}",
        f"headchar={any(is_characterizing(t) for t in head)}",
        f"tailcue={any(is_cue(t) for t in tail)}",
        f"paraevent={events_before > 0}",
        f"prevfound={previous_ruled}",
        f"paraopen={not text[paragraph_start : span.open_start].strip()}",
    ]
    for n, token in enumerate(reversed(head[-REGION_TOKENS:])):
        features += [f"h{n}pos={token.pos_}", f"h{n}dep={token.dep_}"]
        if token.pos_ in FUNCTION_POS:
            features.append(f"h{n}w={token.lower_}")
    for n, token in enumerate(tail[:REGION_TOKENS]):
        features.append(f"t{n}pos={token.pos_}")
        if token.is_punct:
            features.append(f"t{n}w={token.text}")
    attached = _attachment(layout, k)
    if attached is not None:
        features.append(f"attach={attached.pos_}")
    return features


def _attachment(layout: Layout, k: int) -> Token | None:
    """The first token outside quotation k that a token inside it hangs on: the verb or noun it is part of."""
    doc, owner = layout.doc, layout.owner
    return next((doc[i].head for i in range(layout.first[k], layout.last[k] + 1) if owner[doc[i].head.i] != k), None)


def clause_speaker(
    layout: Layout, k: int, head: Sequence[Token], tail: Sequence[Token], speakers: Sequence[Speaker], context: Context
) -> tuple[Speaker, str] | None:
    """The person who is the subject of the sentence quotation k sits in, and that subject's verb, else None.

    Only a subject resolved to a PERSON of the article counts: on PolNeAR's train split such a subject was the
    gold speaker of 94 % of the quotations the rules missed, any other subject of 68 % (`paragraph_speaker`
    decides when this finds none).
    """
    allowed = {t.i for t in head} | {t.i for t in tail}
    attached = _attachment(layout, k)
    if (attached is None or attached.i not in allowed) and announces(head):
        attached = head[-2]  # `Trump leaned in and boomed: "…"`, the quote parsed as a sentence of its own
    subject = outermost_subject(attached, allowed) if attached is not None and attached.i in allowed else None
    if subject is None:
        return None
    speaker = resolve_speaker(phrase_of(subject, allowed), speakers, context)
    entity = context.entities.get(speaker.entity_id or "")
    return (speaker, subject.head.text) if entity is not None and entity_type(entity) == PERSON else None


def announcing_subject(
    layout: Layout, k: int, head: Sequence[Token], speakers: Sequence[Speaker], context: Context
) -> Speaker | None:
    """The subject, person or not, of the clause a colon closes right before quotation k, when that quotation
    is a statement (a clause, not a list's item or a name: `The menu lists three dishes: "…"`) and the subject
    comes before its verb (`Then came the line of the night: "…"` presents the quotation, it does not say it)."""
    if not announces(head) or not states_something(layout, k):
        return None
    allowed = {t.i for t in head}
    subject = outermost_subject(head[-2], allowed)
    if subject is None or subject.i > subject.head.i:
        return None
    return resolve_speaker(phrase_of(subject, allowed), speakers, context)


def paragraph_speaker(speakers: Sequence[Speaker], paragraph_start: int, at: int) -> Speaker | None:
    """The speaker attributed last (in reading order) among those named in the paragraph before offset `at`."""
    return next((s for s in reversed(speakers) if paragraph_start <= s.start_char < at), None)


def rescue(
    layout: Layout,
    k: int,
    head: Sequence[Token],
    tail: Sequence[Token],
    speakers: Sequence[Speaker],
    region_end: int,
    *,
    judge: SpanJudge,
    previous_ruled: bool,
    event_offsets: Sequence[int],
    context: Context,
) -> Attribution | None:
    """Quotation k, which no rule attributed (attribution.py's second opinion, with its regions and speakers),
    when the judge takes it for speech and a person of the article is the subject of its sentence, else the
    subject of the clause a colon closes before it, else the speaker attributed last in its paragraph (see
    above); a usage (`researchers call such attacks "…"`) never: the rules know it is no one's words."""
    span = layout.spans[k]
    if len(WORD_RE.findall(layout.text[span.start : span.end])) < MIN_WORDS or states_usage(head):
        return None
    paragraph_start = layout.text.rfind(PARAGRAPH_BREAK, 0, span.open_start) + 1
    events_before = bisect_left(event_offsets, span.open_start) - bisect_left(event_offsets, paragraph_start)
    if not judge.accepts(span, span_features(layout, k, head, tail, events_before, previous_ruled)):
        return None
    found = clause_speaker(layout, k, head, tail, speakers, context)
    if found is not None:
        return Attribution(found[0], found[1], METHOD, quote_kind(head, METHOD), region_end)
    announcer = announcing_subject(layout, k, head, speakers, context)
    if announcer is not None:
        return Attribution(announcer, ":", COLON_METHOD, quote_kind(head, COLON_METHOD), region_end)
    earlier = paragraph_speaker(speakers, paragraph_start, span.open_start)
    if earlier is None:
        return None
    return Attribution(earlier, None, PARAGRAPH_METHOD, quote_kind(head, PARAGRAPH_METHOD), region_end)
