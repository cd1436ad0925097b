"""One article's named entities: spaCy's spans cleaned to names, then linked into the article's entities.

Two pure steps on one parse, before any other article is seen (entities.py resolves across articles):

1. `article_mentions(doc, text)`: spaCy's entities, cleaned (titles, "the", possessives cut) with exact offsets.
2. `link_mentions(mentions)`: partial names ("Lavrov", "Xi") join the one full name ("Sergey Lavrov")
   and the type is voted over all mentions of the entity.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.nlp.keys import (
    NAMED_LABELS,
    ORG,
    PERSON,
    canonical_name,
    is_full_name,
    name_key,
    name_tokens,
    vote,
)
from pipelines.nlp.lexicon import is_title_word
from pipelines.nlp.model import ParsedArticle

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

PLACE_LABELS = frozenset({"GPE", "LOC"})
PROPER_NOUN = "PROPN"
OUTSIDE = "O"  # spaCy's IOB tag of a token in no entity
# Weight of a PERSON vote for a one-word name never given in full in its article.
UNANCHORED_PERSON_WEIGHT = 0.5
# How far before a span a title may sit ("Deputy Minister of Russia Igor Morgulov").
TITLE_WINDOW_TOKENS = 4
# A split-off person name has a given name and a surname, perhaps a middle name.
NAME_TOKENS_RANGE = range(2, 4)

# A name right before a press designator is an organization spaCy's small models often miss:
# "Japan's Jiji Press news agency", "the Yonhap news agency", "the Asahi newspaper".
PRESS_DESIGNATOR = r"(?:news[ \t]+agency|news[ \t]+service|wire[ \t]+service|newspaper|broadcaster)\b"
PRESS_NAME_RE = re.compile(r"\b[A-Z][\w&.\-]*(?:[ \t]+[A-Z][\w&.\-]*){0,3}(?=[ \t]+" + PRESS_DESIGNATOR + ")")
# The lower-case designator describes the name and is not part of it: "Xinhua news agency" is "Xinhua".
TRAILING_PRESS_RE = re.compile(r"[ \t]+" + PRESS_DESIGNATOR + "$")
LEADING_JUNK_RE = re.compile(r"^(?:[\s\"“”‘’'«»(\[{•·*\-–—]+|(?:the|The|THE)\s+)+")
TRAILING_JUNK_RE = re.compile(r"(?:['’]s|[\s\"“”‘’'«»)\]},;:!?\-–—])+$")
WORD_RE = re.compile(r"\S+")
# A final period belongs to the name only in abbreviations ("U.S.", "George W.", "Sammy Davis Jr.", "Apple Inc.").
ABBREVIATION_END_RE = re.compile(r"(?:\b\w\.)+$|\b(?:Jr|Sr|Inc|Corp|Ltd|Co|Bros|St|Mt|Ft|Dr|Mr|Mrs|Ms|No)\.$")
HAS_WORD_CHAR_RE = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class Mention:
    """A cleaned spaCy entity span in one article; `label` is spaCy's label for this occurrence."""

    start_char: int
    end_char: int
    text: str
    label: str
    sentence_index: int


@dataclass(frozen=True, slots=True)
class LocalEntity:
    """One entity inside one article: its name, its mentions' label votes (weighted by name length), its mentions."""

    name: str
    votes: tuple[tuple[str, float], ...]
    mentions: tuple[Mention, ...]


@dataclass(frozen=True, slots=True)
class ArticleEntities:
    """One article's entities before cross-article resolution; `skip_reason` is set when NER did not run."""

    article_id: str
    entities: tuple[LocalEntity, ...] = ()
    skip_reason: str | None = None


# --- step 1: mentions ----------------------------------------------------------------------------------


def clean_span(text: str, start: int, end: int, label: str) -> tuple[int, int] | None:
    """Offsets of the name inside an entity span: without brackets, 'the', possessive, and for people their title."""
    span = text[start:end]
    lead = LEADING_JUNK_RE.match(span)
    trail = TRAILING_JUNK_RE.search(span)
    new_start = start + (lead.end() if lead else 0)
    new_end = start + (trail.start() if trail else len(span))
    if text[new_end - 1 : new_end] == "." and not ABBREVIATION_END_RE.search(text, new_start, new_end):
        new_end -= 1
    if label == ORG and (press := TRAILING_PRESS_RE.search(text, new_start, new_end)):
        new_end = press.start()
    if label == PERSON:
        words = list(WORD_RE.finditer(text, new_start, new_end))
        titles = [index for index, word in enumerate(words[:-1]) if is_title_word(word.group())]
        if titles:
            new_start = words[titles[-1] + 1].start()
    if new_start >= new_end or not HAS_WORD_CHAR_RE.search(text, new_start, new_end):
        return None
    return new_start, new_end


def is_capitalized(token: Token) -> bool:
    text = token.text
    return text[:1].isupper() and text.replace(".", "").replace("-", "").isalpha()


def split_titled_name(ent: Span, place_keys: frozenset[str]) -> list[tuple[int, int, str]]:
    """Token ranges of an entity span, with a trailing person name split off when spaCy glued it to a place.

    'Deputy Minister of Russia Igor Morgulov' is often tagged ORG 'Russia Igor Morgulov': when a title precedes,
    and the capitalized run at the end starts with a place named in the same article, the rest is a person.
    """
    doc = ent.doc
    run_start = ent.end
    while run_start > ent.start and is_capitalized(doc[run_start - 1]):
        run_start -= 1
    context = doc[max(0, ent.start - TITLE_WINDOW_TOKENS) : run_start]
    if ent.label_ == PERSON or ent.end - run_start < 3 or not any(is_title_word(tok.text) for tok in context):
        return [(ent.start, ent.end, ent.label_)]
    for split in range(run_start + 1, ent.end - 1):
        name = doc[split : ent.end]
        if (
            len(name) in NAME_TOKENS_RANGE
            and name_key(doc[run_start:split].text) in place_keys
            and not any(is_title_word(token.text) for token in name)
        ):
            return [(ent.start, split, ent.label_), (split, ent.end, PERSON)]
    return [(ent.start, ent.end, ent.label_)]


def article_mentions(doc: Doc, text: str) -> list[Mention]:
    """Cleaned named-entity mentions of a parse of `text` (spaCy rebuilds `doc.text` on every access)."""
    sentence_starts = [sentence.start for sentence in doc.sents]
    named = [ent for ent in doc.ents if ent.label_ in NAMED_LABELS]
    place_keys = frozenset(name_key(ent.text) for ent in named if ent.label_ in PLACE_LABELS)
    spans = [piece for ent in named for piece in split_titled_name(ent, place_keys)] + press_names(doc, text)
    mentions = []
    for start, end, label in sorted(spans):
        span = doc[start:end]
        cleaned = clean_span(text, span.start_char, span.end_char, label)
        if cleaned is None or not name_key(text[cleaned[0] : cleaned[1]]):
            continue
        first, last = cleaned
        sentence = bisect_right(sentence_starts, start) - 1
        mentions.append(Mention(first, last, text[first:last], label, sentence))
    return sorted([*mentions, *repeated_names(doc, text, mentions, sentence_starts)], key=lambda m: m.start_char)


def repeated_names(doc: Doc, text: str, mentions: Sequence[Mention], sentence_starts: Sequence[int]) -> list[Mention]:
    """Occurrences NER missed of a person it named in full in the same article: "Mike Rathbun" tagged, then
    "Rathbun" or "Mike Rathbun" left untagged a few sentences on.

    An article introduces a person by full name and then repeats the full name or the surname alone (one sense
    per discourse), so an untagged run of proper nouns spelling either is that person. Only people: a place or
    organisation name changes type with its use (a country as a place, a team or a government), and repeating
    NER's label where it stayed silent would spread its type errors; a one-word "person" (NER's "Twitter")
    names no one in full. One pass over the tokens: the cost does not grow with the number of names.
    """
    full_names = {m.text for m in mentions if m.label == PERSON and is_full_name(m.text)}
    surnames = Counter(name.split()[-1] for name in full_names)
    people = full_names | {surname for surname, count in surnames.items() if count == 1}
    if not people:
        return []  # most texts name nobody in full: no pass over their tokens
    found: list[Mention] = []
    i = 0
    while i < len(doc):
        if not _untagged_proper_noun(doc[i]):
            i += 1
            continue
        end = i
        while end < len(doc) and _untagged_proper_noun(doc[end]):
            end += 1
        start_char, end_char = doc[i].idx, doc[end - 1].idx + len(doc[end - 1].text)
        if text[start_char:end_char] in people:
            found.append(
                Mention(start_char, end_char, text[start_char:end_char], PERSON, bisect_right(sentence_starts, i) - 1)
            )
        i = end
    return found


def _untagged_proper_noun(token: Token) -> bool:
    return token.pos_ == PROPER_NOUN and token.ent_iob_ == OUTSIDE


def press_names(doc: Doc, text: str) -> list[tuple[int, int, str]]:
    """Token ranges of press organizations named before 'news agency' and the like, where NER found nothing."""
    found = []
    for match in PRESS_NAME_RE.finditer(text):
        span = doc.char_span(match.start(), match.end())
        if span is not None and all(token.ent_iob_ == "O" and token.pos_ == PROPER_NOUN for token in span):
            found.append((span.start, span.end, ORG))
    return found


# --- step 2: within one article ------------------------------------------------------------------------


def mention_weight(text: str) -> int:
    """Longer names are stronger evidence of type: spaCy often calls a bare surname ORG, rarely a full name."""
    return max(1, len(text.split()))


def links_to(short: tuple[str, ...], full: tuple[str, ...]) -> bool:
    """Whether name tokens `short` are a partial form of `full`: its surname part, or it without middle names."""
    if len(short) >= len(full):
        return False
    return full[-len(short) :] == short or (len(short) >= 2 and (short[0], short[-1]) == (full[0], full[-1]))


def is_person(votes: Mapping[str, float]) -> bool:
    return vote(votes) == PERSON


def link_mentions(mentions: Sequence[Mention]) -> tuple[LocalEntity, ...]:
    """Group one article's mentions into entities: same key, or a partial name of a unique full-named person."""
    groups: dict[str, list[Mention]] = defaultdict(list)
    for mention in mentions:
        groups[name_key(mention.text)].append(mention)
    tokens = {key: name_tokens(group[0].text) for key, group in groups.items()}
    votes = {key: weighted_votes((m.text, m.label) for m in group) for key, group in groups.items()}
    root: dict[str, str] = {}
    by_last: dict[str, list[str]] = defaultdict(list)  # last word -> keys of longer names
    by_first: dict[str, list[str]] = defaultdict(list)  # first word -> keys of longer names
    for key in sorted(groups, key=lambda k: (-len(tokens[k]), k)):
        root[key] = key
        words = tokens[key]
        if not words:
            continue
        targets = {root[o] for o in by_last[words[-1]] if links_to(words, tokens[o]) and is_person(votes[root[o]])}
        if not targets and len(words) == 1:
            # Family name first ("Xi Jinping" ... "Xi"), as in Chinese, Korean or Hungarian names.
            targets = {root[o] for o in by_first[words[0]] if is_person(votes[root[o]])}
        if len(words) >= 2 and is_full_name(groups[key][0].text):
            by_last[words[-1]].append(key)
            by_first[words[0]].append(key)
        if len(targets) == 1:
            target = targets.pop()
            combined = votes[target] + votes[key]
            if is_person(combined):
                root[key] = target
                votes[target] = combined
    members: dict[str, list[Mention]] = defaultdict(list)
    for key, group in groups.items():
        members[root[key]].extend(group)
    return tuple(
        LocalEntity(*summarize([(m.text, m.label) for m in group]), tuple(sorted(group, key=lambda m: m.start_char)))
        for _, group in sorted(members.items())
    )


def summarize(mentions: Sequence[tuple[str, str]]) -> tuple[str, tuple[tuple[str, float], ...]]:
    """The name and label votes of one entity's (text, label) mentions.

    The one definition for an entity linked here and for one the load regroups from stored mentions, so
    both add the same votes to resolution across articles.
    """
    name = canonical_name(Counter(text for text, _ in mentions))
    votes = anchored_votes(weighted_votes(mentions), len(name_tokens(name)))
    return name, tuple(sorted(votes.items()))


def anchored_votes(votes: Counter[str], words: int) -> Counter[str]:
    """Discount PERSON votes of a lone one-word name: news introduces people by full name, places and brands not."""
    if words > 1 or PERSON not in votes:
        return votes
    discounted = Counter(votes)
    discounted[PERSON] *= UNANCHORED_PERSON_WEIGHT  # type: ignore[assignment]  # float vote weights: Counter takes any number, typeshed says int
    return discounted


def weighted_votes(mentions: Iterable[tuple[str, str]]) -> Counter[str]:
    votes: Counter[str] = Counter()
    for text, label in mentions:
        votes[label] += mention_weight(text)
    return votes


def link_article(parsed: ParsedArticle) -> ArticleEntities:
    """One article's entities from its parse; an article the model may not read keeps its skip reason."""
    if parsed.doc is None:
        return ArticleEntities(parsed.article.article_id, (), parsed.skip_reason)
    mentions = article_mentions(parsed.doc, parsed.article.body_text)
    return ArticleEntities(parsed.article.article_id, link_mentions(mentions))
