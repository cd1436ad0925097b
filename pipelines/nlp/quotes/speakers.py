"""Who a speaker phrase is: the article's entity it names, by the most reliable evidence first.

A mention under the speaker's head word (or its apposition), a name that matches an entity of the article,
a pronoun resolved to the latest compatible speaker or subject, or a role noun ("the ministry", "the Russian
top diplomat") matched against the titles and appositions of earlier mentions. An unresolved speaker keeps
its text, a NULL entity and a low confidence.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from pipelines.nlp.lexicon import (
    DEMONYMS,
    GENERIC_ORG_NOUNS,
    ROLE_SYNONYMS,
    SOFT_MODIFIERS,
)
from pipelines.nlp.quotes.marks import Layout
from pipelines.records import Entity, EntityMention

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

T = TypeVar("T")

SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})  # also read by attribution: who says a cue
SAME_REFERENT_DEPS = frozenset({"appos", "flat"})  # not "compound": "a Kremlin spokesman" is not the Kremlin
# a word of a name or quote, hyphens and apostrophes inside it: "Al-Maeena", "O'Neill"
WORD_RE = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")

PRONOUN_TYPES: Mapping[str, tuple[str, ...]] = {
    "he": ("PERSON",),
    "him": ("PERSON",),
    "she": ("PERSON",),
    "her": ("PERSON",),
    "it": ("ORG", "GPE"),
}  # "they"/"we" are as often unnamed people ("they testified") as an organisation: left unresolved
PRONOUNS = frozenset({*PRONOUN_TYPES, "they", "them", "we", "i", "you"})
_MASCULINE, _FEMININE = frozenset({"he", "him"}), frozenset({"she", "her"})
OPPOSITE_PRONOUNS: Mapping[str, frozenset[str]] = {
    **dict.fromkeys(_MASCULINE, _FEMININE),
    **dict.fromkeys(_FEMININE, _MASCULINE),
}
# other taggers' names for spaCy's PERSON and ORG
ENTITY_TYPE_ALIASES: Mapping[str, str] = {"PER": "PERSON", "ORGANIZATION": "ORG", "ORGANISATION": "ORG"}
DEFINITE = frozenset({"the", "this", "that"})
INDEFINITE = frozenset({"a", "an", "one", "another", "some", "any"})  # "a diplomat said" is someone new
PLACE_MARK = "@"  # title words that name a place are kept as "@russ", so nationalities can conflict
DEMONYM_KEY_CHARS = 4  # "Russian"/"Russia", "Japanese"/"Japan", "Chinese"/"China" share their first letters
TITLE_STOP_POS = frozenset({"DET", "PUNCT", "VERB", "AUX", "PRON", "CCONJ", "SCONJ", "SPACE", "NUM"})
MAX_TITLE_TOKENS = 7
# How far back a pronoun, a role ("the minister") or a generic name ("the company") looks for what it refers
# to: further than any ordinary article reaches, so articles resolve as if it were unbounded, while in a
# transcript or live blog of megabytes each speaker costs what its neighbourhood does, not the whole text.
LOOKBACK_CHARS = 50_000

CONF_MENTION = 0.9
CONF_NAME = 0.8
CONF_ROLE = 0.7
CONF_ROLE_AMBIGUOUS = 0.45
CONF_PRONOUN_SPEAKER = 0.7
CONF_PRONOUN_SUBJECT = 0.6
CONF_PRONOUN_MENTION = 0.45
CONF_GENERIC_ORG = 0.5
CONF_UNRESOLVED = 0.3


@dataclass(frozen=True, slots=True)
class Speaker:
    """A speaker phrase and what it resolved to."""

    start_char: int
    end_char: int
    text: str
    entity_id: str | None
    confidence: float

    @property
    def is_pronoun(self) -> bool:
        return self.text.lower() in PRONOUNS


@dataclass(slots=True)
class SpeakerLog:
    """The speakers found so far, in the order they were found (at non-decreasing offsets `found_at`).

    A later phrase reads only those within LOOKBACK_CHARS of it (`_recent_speakers`); a speaker lies next to
    where it was found, so those found more than twice the lookback earlier are never handed over at all.
    """

    speakers: list[Speaker] = field(default_factory=list)
    found_at: list[int] = field(default_factory=list)

    def add(self, speaker: Speaker, at: int) -> None:
        self.speakers.append(speaker)
        self.found_at.append(at)

    def near(self, at: int) -> list[Speaker]:
        return self.speakers[bisect_left(self.found_at, at - 2 * LOOKBACK_CHARS) :]


def entity_type(entity: Entity | None) -> str:
    return ENTITY_TYPE_ALIASES.get(entity.type.upper(), entity.type.upper()) if entity else ""


def _place_key(word: str) -> str:
    """ "Russian", "Russia" and "Russia's" share a key; so do "American" and "US"."""
    lower = word.lower().removesuffix("’s").removesuffix("'s")
    return PLACE_MARK + DEMONYMS.get(lower, lower)[:DEMONYM_KEY_CHARS]


def _word_key(token: Token) -> str:
    """Nationality words compare by place key, every other word by its lower case."""
    is_place = token.ent_type_ in ("NORP", "GPE") or (token.pos_ == "ADJ" and token.text[:1].isupper())
    return _place_key(token.text) if is_place else token.lower_


@dataclass(frozen=True, slots=True)
class _Title:
    """How an entity was described at one mention: all title words, and the head nouns a role must match."""

    offset: int
    entity_id: str
    words: frozenset[str]
    heads: frozenset[str]


@dataclass(frozen=True, slots=True)
class Context:
    """What resolution needs about one article: its mentions in order and each entity's title words."""

    text: str
    mentions: Sequence[EntityMention]  # in reading order, as are narrated, titles and subjects
    narrated: Sequence[EntityMention]  # mentions outside quotations
    entities: Mapping[str, Entity]
    titles: Sequence[_Title]
    subjects: Sequence[tuple[int, str]]  # (char offset, entity_id) of mentions that are a clause's subject
    longest: int = 0  # the longest mention, in characters
    name_words: Mapping[str, frozenset[str]] = field(default_factory=dict)  # of each mentioned entity's name
    # Where each of `mentions`, `narrated`, `titles` and `subjects` starts, for bisecting.
    starts: Sequence[int] = ()
    narrated_starts: Sequence[int] = ()
    title_starts: Sequence[int] = ()
    subject_starts: Sequence[int] = ()

    def recent(self, items: Sequence[T], offsets: Sequence[int], before: int) -> Sequence[T]:
        """The `items` (in reading order, at `offsets`) within LOOKBACK_CHARS before `before`."""
        return items[bisect_left(offsets, before - LOOKBACK_CHARS) : bisect_left(offsets, before)]


def _title_before(doc: Doc, span: Span) -> tuple[list[Token], list[Token]]:
    """Title words right before a name ("Russian Foreign Minister Sergey Lavrov") and their head nouns."""
    before: list[Token] = []
    i = span.start - 1
    while i >= 0 and len(before) < MAX_TITLE_TOKENS:
        token = doc[i]
        if token.pos_ in TITLE_STOP_POS or (token.pos_ == "ADP" and token.lower_ != "of"):
            break
        before.insert(0, token)
        i -= 1
    heads = [t for k, t in enumerate(before) if k == len(before) - 1 or before[k + 1].lower_ == "of"]
    return before, heads


def _appositions(span: Span) -> list[Token]:
    """Appositions' heads: "Sergey Lavrov, Russia's foreign minister," or "Russia's minister, Sergey Lavrov"."""
    heads = [t for tok in span for t in tok.children if t.dep_ == "appos" and t.i >= span.end]
    if span.root.dep_ == "appos" and span.root.head.i < span.start:
        heads.append(span.root.head)
    return heads


def _title(doc: Doc, span: Span, mention: EntityMention, entity: Entity) -> _Title:
    """Title words an entity carries at one mention; an organisation's own name says what it is ("ministry")."""
    words, heads = _title_before(doc, span)
    for head in _appositions(span):
        words += [t for t in head.subtree if not t.is_punct]
        heads.append(head)
    keys = {_word_key(t) for t in words}
    head_keys = {t.lower_ for t in heads}
    if entity_type(entity) == "ORG":
        keys |= {_word_key(t) for t in span} | {w.lower() for w in WORD_RE.findall(entity.name)}
        head_keys.add(span.root.lower_)
    return _Title(mention.start_char, mention.entity_id, frozenset(keys), frozenset(head_keys))


def build_context(layout: Layout, mentions: Sequence[EntityMention], entities: Mapping[str, Entity]) -> Context:
    """Index the article's mentions, the narrated ones (outside quotes) that are subjects, and entities' titles."""
    ordered = sorted(mentions, key=lambda m: m.start_char)
    titles: list[_Title] = []
    narrated: list[EntityMention] = []
    subjects: list[tuple[int, str]] = []
    for mention in ordered:
        span = layout.doc.char_span(mention.start_char, mention.end_char, alignment_mode="expand")
        if span is None:
            continue
        if layout.owner[span.start] < 0:  # "General Prelogar" inside a quote is nobody "he" can refer to
            narrated.append(mention)
            if span.root.dep_ in SUBJECT_DEPS:
                subjects.append((mention.start_char, mention.entity_id))
        entity = entities.get(mention.entity_id)
        if entity is not None and entity_type(entity) in ("PERSON", "ORG"):
            titles.append(_title(layout.doc, span, mention, entity))
    name_words = {
        m.entity_id: frozenset(w.lower() for w in WORD_RE.findall(entities[m.entity_id].name))
        for m in ordered
        if m.entity_id in entities
    }
    return Context(
        layout.text,
        ordered,
        narrated,
        entities,
        titles,
        subjects,
        max((m.end_char - m.start_char for m in ordered), default=0),
        name_words,
        [m.start_char for m in ordered],
        [m.start_char for m in narrated],
        [t.offset for t in titles],
        [offset for offset, _ in subjects],
    )


def _mention_under(head: Token, context: Context) -> str | None:
    """The entity of a mention covering the speaker's head word (the first in reading order)."""
    first, last = bisect_left(context.starts, head.idx - context.longest), bisect_right(context.starts, head.idx)
    for mention in context.mentions[first:last]:
        if mention.start_char <= head.idx < mention.end_char:
            return mention.entity_id
    return None


def _name_match(phrase: Sequence[Token], context: Context) -> str | None:
    """The one entity of this article whose name holds every proper name in the phrase ("Lavrov" -> Sergey Lavrov)."""
    names = [t.lower_ for t in phrase if t.pos_ == "PROPN" or t.text[:1].isupper()]
    names = [n for n in names if n not in DEFINITE | INDEFINITE]
    if not names:
        return None
    wanted = set(names)
    found = {eid for eid, words in context.name_words.items() if wanted <= words}
    return found.pop() if len(found) == 1 else None


def _role_match(
    phrase: Sequence[Token], before: int, speakers: Sequence[Speaker], context: Context
) -> tuple[str | None, float]:
    """Resolve "the Russian top diplomat" to the entity introduced earlier with compatible title words.

    Every title word of the role must be in the entity's titles, except ranks ("top") and nationalities the
    titles do not state; a nationality that contradicts them rules the entity out. Ties go to the entity
    spoken of last, at a low confidence.
    """
    content = [t for t in phrase if t.pos_ not in ("DET", "PRON") and not t.is_punct]
    if not content or phrase[0].lower_ in INDEFINITE:
        return None, CONF_UNRESOLVED
    head = content[-1].lower_
    wanted = ROLE_SYNONYMS.get(head, (frozenset({head}),))
    words: dict[str, set[str]] = defaultdict(set)
    matched: set[str] = set()
    for title in context.recent(context.titles, context.title_starts, before):
        words[title.entity_id] |= title.words
        if any(option <= title.words and option & title.heads for option in wanted):
            matched.add(title.entity_id)
    modifiers = [_word_key(t) for t in content[:-1]]
    scores: dict[str, int] = {}
    for entity_id in matched:
        fits = [_modifier_fit(key, words[entity_id]) for key in modifiers]
        if None not in fits:
            scores[entity_id] = sum(fit or 0 for fit in fits)
    if not scores:
        return None, CONF_UNRESOLVED
    top = max(scores.values())
    winners = {eid for eid, score in scores.items() if score == top}
    if len(winners) == 1:
        return winners.pop(), CONF_ROLE
    recency = {eid: offset for offset, eid in _entity_offsets(speakers, context, before) if offset < before}
    return max(winners, key=lambda eid: recency.get(eid, -1)), CONF_ROLE_AMBIGUOUS


def _modifier_fit(key: str, title: set[str]) -> int | None:
    """1 when the titles state the modifier, 0 when they may leave it out, None when it rules the entity out."""
    if key in title:
        return 1
    if key.startswith(PLACE_MARK):  # another nationality contradicts; an unstated one is unknown
        return None if any(word.startswith(PLACE_MARK) for word in title) else 0
    return 0 if key in SOFT_MODIFIERS else None


def _entity_offsets(speakers: Sequence[Speaker], context: Context, before: int) -> list[tuple[int, str]]:
    """(offset, entity_id) of each mention and resolved speaker in the lookback before `before`, in reading order."""
    found = [(m.start_char, m.entity_id) for m in context.recent(context.mentions, context.starts, before)]
    found += [(s.start_char, s.entity_id) for s in _recent_speakers(speakers, before) if s.entity_id]
    return sorted(found)


def _recent_speakers(speakers: Sequence[Speaker], before: int) -> list[Speaker]:
    """The speakers within LOOKBACK_CHARS before `before` (later ones included: callers compare themselves)."""
    return [s for s in speakers if s.start_char >= before - LOOKBACK_CHARS]


def _other_gender(pronoun: str, before: int, speakers: Sequence[Speaker]) -> frozenset[str]:
    """Entities an earlier "she" (within the lookback) resolved to cannot be a later "he", and the other way round."""
    other = OPPOSITE_PRONOUNS.get(pronoun, frozenset())
    return frozenset(s.entity_id for s in _recent_speakers(speakers, before) if s.entity_id and s.text.lower() in other)


def _latest_of_type(
    types: Sequence[str],
    before: int,
    speakers: Sequence[Speaker],
    context: Context,
    excluded: frozenset[str] = frozenset(),
) -> tuple[str | None, float]:
    """The latest earlier speaker or clause subject of a compatible type, else the latest compatible mention."""
    speakers = _recent_speakers(speakers, before)
    strong = [(s.start_char, s.entity_id, CONF_PRONOUN_SPEAKER) for s in speakers if s.entity_id]
    strong += [
        (offset, entity_id, CONF_PRONOUN_SUBJECT)
        for offset, entity_id in context.recent(context.subjects, context.subject_starts, before)
    ]
    # "a doctor from Hebron said … “…,” he says": the latest speaker is someone unnamed, so is "he"
    unnamed = max(
        (s.start_char for s in speakers if s.entity_id is None and s.start_char < before and not s.is_pronoun),
        default=-1,
    )
    weak = [
        (m.start_char, m.entity_id, CONF_PRONOUN_MENTION)
        for m in context.recent(context.narrated, context.narrated_starts, before)
    ]
    for pool in (strong, weak):  # a bare mention decides only when no speaker or subject fits
        for offset, entity_id, confidence in sorted(pool, reverse=True):
            fits = entity_type(context.entities.get(entity_id or "")) in types and entity_id not in excluded
            if unnamed < offset < before and fits:
                return entity_id, confidence
    return None, CONF_UNRESOLVED


def _linked(head: Token) -> list[Token]:
    """The head and its appositions, which name the same referent: "the coach, Alireza Mehraban"."""
    found = [head]
    for token in found:
        if len(found) > MAX_TITLE_TOKENS:
            break
        found.extend(c for c in token.children if c.dep_ in SAME_REFERENT_DEPS and c not in found)
    return found


def resolve_speaker(phrase: Sequence[Token], speakers: Sequence[Speaker], context: Context) -> Speaker:
    """Link a speaker phrase to an entity, most reliable evidence first."""
    head = phrase[-1]
    start, end = phrase[0].idx, head.idx + len(head.text)
    text = context.text[start:end]
    if len(phrase) == 1 and head.lower_ in PRONOUN_TYPES:
        pronoun = head.lower_
        excluded = _other_gender(pronoun, start, speakers)
        entity_id, confidence = _latest_of_type(PRONOUN_TYPES[pronoun], start, speakers, context, excluded)
        return Speaker(start, end, text, entity_id, confidence)
    entity_id = next(filter(None, (_mention_under(t, context) for t in _linked(head))), None)
    if entity_id is not None:
        return Speaker(start, end, text, entity_id, CONF_MENTION)
    entity_id = _name_match(phrase, context) if head.pos_ == "PROPN" else None
    if entity_id is not None:
        return Speaker(start, end, text, entity_id, CONF_NAME)
    entity_id, confidence = _role_match(phrase, start, speakers, context)
    if entity_id is None and _is_generic_organisation(phrase):
        entity_id, confidence = _latest_of_type(("ORG",), start, speakers, context)
        confidence = min(confidence, CONF_GENERIC_ORG)
    return Speaker(start, end, text, entity_id, confidence)


def _is_generic_organisation(phrase: Sequence[Token]) -> bool:
    """ "the company", "the group": a definite, unmodified organisation noun refers back like "it"."""
    return len(phrase) == 2 and phrase[0].lower_ in DEFINITE and phrase[1].lower_ in GENERIC_ORG_NOUNS
