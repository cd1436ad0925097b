"""Named entities: spaCy mentions, linked within each article, then resolved to one stable entity across articles.

Three pure steps, so the entity and quote stages can share one parse per article:

1. `article_mentions(doc, text)`: spaCy's entities, cleaned (titles, "the", possessives cut) with exact offsets.
2. `link_article(parsed)`: within one article, partial names ("Lavrov", "Xi") join the one full name
   ("Sergey Lavrov") and the type is voted over all mentions of the entity.
3. `resolve(articles, known, rules)`: across articles, a normalized key (case, accents, transliteration)
   gives every entity a deterministic id; surname-only mentions join the one full-named person who
   bears that surname, in this batch or in `known` (what the store already holds).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from pipelines.config import PROJECT_ROOT
from pipelines.ids import stable_id
from pipelines.nlp.model import DEFAULT_BATCH_SIZE, ParsedArticle, load_pipeline, parse
from pipelines.records import ArticleText, Entity, EntityAlias, EntityMention

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token

DEFAULT_ALIAS_FILE = PROJECT_ROOT / "schemas" / "entity_aliases.yaml"
PERSON = "PERSON"
ORG = "ORG"
PLACE_FAMILY = "PLACE"
# spaCy labels that name a real-world entity; dates, times and numbers are values, not entities.
NAMED_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
# spaCy confuses these place labels with one another far more than with anything else: they vote as one.
LABEL_FAMILY = {"GPE": PLACE_FAMILY, "LOC": PLACE_FAMILY, "FAC": PLACE_FAMILY}
# Tie-breaks between labels with equal votes, most common news entity types first.
LABEL_PRIORITY = ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "LAW", "WORK_OF_ART", "LANGUAGE")
PLACE_LABELS = frozenset({"GPE", "LOC"})
PROPER_NOUN = "PROPN"
# Words that precede a person's name as office or form of address and are not part of the name itself.
# Royal and religious styles ("King", "Pope") are left out: there the style is how the person is named.
TITLE_WORDS = frozenset(
    """
    president vice prime minister ministers foreign interior defence defense finance deputy secretary general
    chancellor premier senator sen rep representative congressman congresswoman governor gov mayor ambassador
    envoy diplomat spokesman spokeswoman spokesperson chairman chairwoman chair ceo cfo chief director head leader
    mr mrs ms miss dr prof professor sir dame lord lady col colonel lt capt captain sgt sergeant commander admiral
    judge justice attorney officer official top former acting opposition lawmaker mp coach
    """.split()
)
# Weight of a PERSON vote for a one-word name never given in full in its article.
UNANCHORED_PERSON_WEIGHT = 0.5
# Votes of one stored name or alias: the store resolved it before, from mentions this batch cannot see.
KNOWN_FORM_WEIGHT = 2.0
# Surface forms repeat across a batch (every "Putin"), so keys are memoized; a pure function of the text.
KEY_CACHE_SIZE = 1 << 16
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
ABBREVIATION_DOT_RE = re.compile(r"(?<=\w)\.(?=\w|$)")
POSSESSIVE_RE = re.compile(r"['’]s\b")
NON_ALNUM_RE = re.compile(r"[\W_]+")
LEADING_ARTICLE_KEY = "the "
# Transliteration folding for person names (Russian, Arabic, ... rendered in Latin letters by different
# conventions): Sergey/Sergei, Aleksei/Alexey, Zelensky/Zelenskyy/Zelenskiy, Khrushchev/Hrushchev, Assad/Asad.
TRANSLITERATION_RULES = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (("x", "ks"), ("kh", "h"), ("ph", "f"), ("ck", "k"), ("y", "i"), (r"(\w)\1+", r"\1"))
)


class AliasFileError(ValueError):
    """The reviewed alias file is malformed or maps one surface form to two entities."""


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
    """One entity inside one article: its best name, its mentions and their label votes (weighted by name length)."""

    name: str
    mentions: tuple[Mention, ...]
    votes: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class ArticleEntities:
    """One article's entities before cross-article resolution; `skip_reason` is set when NER did not run."""

    article_id: str
    entities: tuple[LocalEntity, ...] = ()
    skip_reason: str | None = None


@dataclass(frozen=True, slots=True)
class AliasRule:
    """One reviewed entry of the alias file: a canonical name, its type and the forms that mean it."""

    name: str
    type: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AliasRules:
    """Reviewed aliases and merges, looked up by normalized key."""

    by_key: Mapping[str, AliasRule] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KnownEntities:
    """What the store already holds: all `entities` rows and all `entity_aliases` rows (or those sharing a key)."""

    entities: tuple[Entity, ...] = ()
    aliases: tuple[EntityAlias, ...] = ()


NO_KNOWN = KnownEntities()
NO_RULES = AliasRules()


@dataclass(frozen=True, slots=True)
class EntityBatch:
    """Rows for the store: every entity touched by the batch (names may improve: upsert), new aliases, mentions."""

    entities: tuple[Entity, ...]
    aliases: tuple[EntityAlias, ...]
    mentions: tuple[EntityMention, ...]
    skipped: tuple[tuple[str, str], ...]


# --- keys --------------------------------------------------------------------------------------------


def strip_accents(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def name_key(text: str) -> str:
    """Case-, accent- and punctuation-blind key, so 'Russian foreign Ministry' and 'U.S.' match their variants."""
    text = POSSESSIVE_RE.sub("", strip_accents(text).casefold())
    text = NON_ALNUM_RE.sub(" ", ABBREVIATION_DOT_RE.sub("", text)).strip()
    return text.removeprefix(LEADING_ARTICLE_KEY)


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def person_key(text: str) -> str:
    """`name_key` with transliteration variants folded, so 'Sergei Lavrov' and 'Sergey Lavrov' agree."""
    key = name_key(text)
    for pattern, replacement in TRANSLITERATION_RULES:
        key = pattern.sub(replacement, key)
    return key


def label_family(label: str) -> str:
    return LABEL_FAMILY.get(label, label)


def entity_key(label: str, text: str) -> str:
    return person_key(text) if label == PERSON else name_key(text)


def entity_id_for(label: str, text: str) -> str:
    """The deterministic id of the entity named `text`: the same on every run and machine, no database needed."""
    return stable_id("entity", label_family(label), entity_key(label, text))


def best_form(counts: Mapping[str, int], preferred: str | None = None) -> str:
    """The canonical form: longest, most capitalized words, then `preferred` (the stored name), then most frequent."""

    def rank(form: str) -> tuple[int, int, bool, int, str]:
        capitals = sum(word[:1].isupper() for word in form.split())
        return (len(form), capitals, form == preferred, counts.get(form, 0), form)

    candidates = set(counts) | ({preferred} if preferred else set())
    return max(candidates, key=rank) if len(candidates) > 1 else candidates.pop()


def label_rank(label: str) -> int:
    return LABEL_PRIORITY.index(label) if label in LABEL_PRIORITY else len(LABEL_PRIORITY)


def vote(votes: Mapping[str, float]) -> str:
    """The winning label: the family with most votes (GPE/LOC/FAC pool theirs), then its strongest label."""
    families: Counter[str] = Counter()
    for label, weight in votes.items():
        families[label_family(label)] += weight
    return max(votes, key=lambda label: (families[label_family(label)], votes[label], -label_rank(label)))


def name_tokens(text: str) -> tuple[str, ...]:
    """Person-key words of a name; hyphenated 'Abe-Putin' stays one word, so it is never taken for a full name."""
    return tuple(key for key in (person_key(word) for word in text.split()) if key)


# --- step 1: mentions ----------------------------------------------------------------------------------


def is_title_word(word: str) -> bool:
    return any(part in TITLE_WORDS for part in word.lower().strip(".,").split("-"))


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
    return mentions


def press_names(doc: Doc, text: str) -> list[tuple[int, int, str]]:
    """Token ranges of press organizations named before 'news agency' and the like, where NER found nothing."""
    found = []
    for match in PRESS_NAME_RE.finditer(text):
        span = doc.char_span(match.start(), match.end())
        if span is not None and all(token.ent_iob_ == "O" and token.pos_ == PROPER_NOUN for token in span):
            found.append((span.start, span.end, ORG))
    return found


# --- step 2: within one article ------------------------------------------------------------------------


def mention_weight(mention: Mention) -> int:
    """Longer names are stronger evidence of type: spaCy often calls a bare surname ORG, rarely a full name."""
    return max(1, len(mention.text.split()))


def links_to(short: tuple[str, ...], full: tuple[str, ...]) -> bool:
    """Whether name tokens `short` are a partial form of `full`: its surname part, or it without middle names."""
    if len(short) >= len(full):
        return False
    return full[-len(short) :] == short or (len(short) >= 2 and (short[0], short[-1]) == (full[0], full[-1]))


def is_full_name(text: str) -> bool:
    """Two or more words, first and last capitalized: 'nonpartisan pan-democrat' is no one's name."""
    words = text.split()
    return len(words) >= 2 and words[0][:1].isupper() and words[-1][:1].isupper()


def is_person(votes: Mapping[str, float]) -> bool:
    return vote(votes) == PERSON


def link_mentions(mentions: Sequence[Mention]) -> tuple[LocalEntity, ...]:
    """Group one article's mentions into entities: same key, or a partial name of a unique full-named person."""
    groups: dict[str, list[Mention]] = defaultdict(list)
    for mention in mentions:
        groups[name_key(mention.text)].append(mention)
    tokens = {key: name_tokens(group[0].text) for key, group in groups.items()}
    votes = {key: weighted_votes(group) for key, group in groups.items()}
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
        LocalEntity(
            best_form(Counter(mention.text for mention in group)),
            tuple(sorted(group, key=lambda m: m.start_char)),
            tuple(sorted(anchored_votes(votes[key], len(tokens[key])).items())),
        )
        for key, group in sorted(members.items())
    )


def anchored_votes(votes: Counter[str], words: int) -> Counter[str]:
    """Discount PERSON votes of a lone one-word name: news introduces people by full name, places and brands not."""
    if words > 1 or PERSON not in votes:
        return votes
    discounted = Counter(votes)
    discounted[PERSON] *= UNANCHORED_PERSON_WEIGHT
    return discounted


def weighted_votes(mentions: Iterable[Mention]) -> Counter[str]:
    votes: Counter[str] = Counter()
    for mention in mentions:
        votes[mention.label] += mention_weight(mention)
    return votes


def link_article(parsed: ParsedArticle) -> ArticleEntities:
    """One article's entities from its parse; an article the model may not read keeps its skip reason."""
    if parsed.doc is None:
        return ArticleEntities(parsed.article.article_id, (), parsed.skip_reason)
    mentions = article_mentions(parsed.doc, parsed.article.body_text)
    return ArticleEntities(parsed.article.article_id, link_mentions(mentions))


# --- step 3: across articles ---------------------------------------------------------------------------


def load_alias_rules(path: Path = DEFAULT_ALIAS_FILE) -> AliasRules:
    """Read the reviewed alias file: a list of {name, type, aliases}; a form may belong to one entity only."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(entries, list):
        raise AliasFileError(f"{path}: expected a list of entries")
    by_key: dict[str, AliasRule] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("name") or entry.get("type") not in NAMED_LABELS:
            raise AliasFileError(f"{path}: entry needs a name and a type from {sorted(NAMED_LABELS)}: {entry!r}")
        rule = AliasRule(str(entry["name"]), str(entry["type"]), tuple(str(a) for a in entry.get("aliases") or ()))
        for form in (rule.name, *rule.aliases):
            key = name_key(form)
            if by_key.get(key, rule) != rule:
                raise AliasFileError(f"{path}: {form!r} is listed under {by_key[key].name!r} and {rule.name!r}")
            by_key[key] = rule
    return AliasRules(by_key)


@dataclass(frozen=True, slots=True)
class EntityIndex:
    """Lookup tables for resolution: reviewed rules and stored entities by key (ambiguous keys left out)."""

    rules: AliasRules
    known: Mapping[tuple[str, str], Entity]

    def assign(self, form: str, label: str, people: PeopleIndex) -> tuple[str, str]:
        """(entity_id, type) of a form voted `label`; a bare surname joins the one full-named person who bears it."""
        rule = self.rules.by_key.get(name_key(form))
        if rule is not None:
            return entity_id_for(rule.type, rule.name), rule.type
        words = name_tokens(form)
        if label == PERSON and len(words) == 1 and len(candidates := people.candidates(words[0])) == 1:
            return next(iter(candidates)), PERSON
        stored = self.known.get((label_family(label), entity_key(label, form)))
        if stored is not None:
            return stored.entity_id, stored.type
        return entity_id_for(label, form), label


def build_index(known: KnownEntities, rules: AliasRules) -> EntityIndex:
    """Index stored entities by the key of their name and of every alias; a key naming two entities is dropped.

    A full-named person's one-word aliases are left to the people index, which knows when a surname is shared.
    """
    by_id = {entity.entity_id: entity for entity in known.entities}
    forms = [(entity.entity_id, entity.name) for entity in known.entities]
    forms += [
        (alias.entity_id, alias.alias)
        for alias in known.aliases
        if alias.entity_id in by_id and not is_surname_alias(alias.alias, by_id[alias.entity_id])
    ]
    candidates: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entity_id, form in forms:
        entity = by_id[entity_id]
        candidates[(label_family(entity.type), entity_key(entity.type, form))].add(entity_id)
    return EntityIndex(rules, {key: by_id[min(ids)] for key, ids in candidates.items() if len(ids) == 1})


def is_surname_alias(form: str, entity: Entity) -> bool:
    return entity.type == PERSON and len(name_tokens(form)) == 1 and len(name_tokens(entity.name)) > 1


@dataclass(frozen=True, slots=True)
class PeopleIndex:
    """Full-named people by last word and by first word (entity ids), to resolve a one-word mention."""

    by_last: Mapping[str, frozenset[str]] = field(default_factory=dict)
    by_first: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def candidates(self, word: str) -> frozenset[str]:
        """People a one-word name may mean: by surname, else by a family name written first ("Xi")."""
        if word in self.by_last:
            return self.by_last[word]
        return self.by_first.get(word, frozenset())


NO_PEOPLE = PeopleIndex()


def people_index(people: Iterable[tuple[str, str]]) -> PeopleIndex:
    """Index full-named people (entity_id, name); a word shared by two people resolves to neither."""
    by_last: dict[str, set[str]] = defaultdict(set)
    by_first: dict[str, set[str]] = defaultdict(set)
    for entity_id, name in people:
        words = name_tokens(name)
        if len(words) >= 2 and is_full_name(name):
            by_last[words[-1]].add(entity_id)
            by_first[words[0]].add(entity_id)
    return PeopleIndex(
        {word: frozenset(ids) for word, ids in by_last.items()},
        {word: frozenset(ids) for word, ids in by_first.items()},
    )


def batch_votes(locals_: Iterable[LocalEntity], known: KnownEntities) -> dict[str, Counter[str]]:
    """Label votes per name key over the batch and the store; a full-named person also votes for their bare surname."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for local in locals_:
        local_votes = dict(local.votes)
        votes[name_key(local.name)].update(local_votes)
        if vote(local_votes) == PERSON:
            add_surname_vote(votes, local.name, len(local.mentions))
    types = {entity.entity_id: entity.type for entity in known.entities}
    stored = [(entity.name, entity.type) for entity in known.entities]
    stored += [(alias.alias, types[alias.entity_id]) for alias in known.aliases if alias.entity_id in types]
    for form, label in stored:
        votes[name_key(form)][label] += KNOWN_FORM_WEIGHT
        if label == PERSON:
            add_surname_vote(votes, form, KNOWN_FORM_WEIGHT)
    return votes


def add_surname_vote(votes: dict[str, Counter[str]], name: str, weight: float) -> None:
    words = name.split()
    if len(words) >= 2:
        votes[name_key(words[-1])][PERSON] += weight


def resolve(
    articles: Iterable[ArticleEntities], known: KnownEntities = NO_KNOWN, rules: AliasRules = NO_RULES
) -> EntityBatch:
    """Give every local entity its stable id and type; the same inputs always give the same rows.

    Full names are resolved first; bare surnames then look up the full-named people of this batch and of `known`.
    """
    articles = tuple(articles)
    votes = batch_votes((local for article in articles for local in article.entities), known)
    typed = [
        (article.article_id, local, vote(votes[name_key(local.name)]))
        for article in articles
        for local in article.entities
    ]
    index = build_index(known, rules)
    full = {
        position: index.assign(local.name, label, NO_PEOPLE)
        for position, (_, local, label) in enumerate(typed)
        if len(name_tokens(local.name)) > 1
    }
    people = [(e.entity_id, e.name) for e in known.entities if e.type == PERSON]
    people += [(entity_id, typed[i][1].name) for i, (entity_id, label) in full.items() if label == PERSON]
    named_people = people_index(people)
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    types: dict[str, Counter[str]] = defaultdict(Counter)
    mentions = []
    for position, (article_id, local, label) in enumerate(typed):
        entity_id, entity_type = full.get(position) or index.assign(local.name, label, named_people)
        types[entity_id][entity_type] += len(local.mentions)
        forms[entity_id].update(mention.text for mention in local.mentions)
        mentions.extend(
            EntityMention(article_id, entity_id, m.text, m.start_char, m.end_char, m.sentence_index, m.label)
            for m in local.mentions
        )
    stored = {entity.entity_id: entity.name for entity in known.entities}
    reviewed = {entity_id_for(rule.type, rule.name): rule.name for rule in rules.by_key.values()}
    entities = tuple(
        Entity(
            entity_id,
            reviewed.get(entity_id) or best_form(forms[entity_id], stored.get(entity_id)),
            vote(types[entity_id]),
        )
        for entity_id in sorted(forms)
    )
    aliases = tuple(EntityAlias(entity_id, form) for entity_id in sorted(forms) for form in sorted(forms[entity_id]))
    skipped = tuple((a.article_id, a.skip_reason) for a in articles if a.skip_reason is not None)
    return EntityBatch(entities, aliases, tuple(mentions), skipped)


def resolve_name(text: str, label: str, known: KnownEntities = NO_KNOWN, rules: AliasRules = NO_RULES) -> str:
    """The entity id a surface form resolves to, given stored entities: what an analyst's search should use."""
    people = [(entity.entity_id, entity.name) for entity in known.entities if entity.type == PERSON]
    return build_index(known, rules).assign(text, label, people_index(people))[0]


def extract_entities(
    articles: Iterable[ArticleText],
    *,
    nlp: Language | None = None,
    known: KnownEntities = NO_KNOWN,
    rules: AliasRules = NO_RULES,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> EntityBatch:
    """Parse, link and resolve a batch of articles: the whole stage for callers that need no Doc of their own."""
    parsed = parse(nlp or load_pipeline(), articles, batch_size)
    return resolve((link_article(item) for item in parsed), known, rules)
