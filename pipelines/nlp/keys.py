"""How two names are found to mean the same entity: normalized keys, deterministic ids and label votes.

Both the per-article linking (mentions.py) and the cross-article resolution (entities.py) compare names,
so the comparison lives here, below both.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping

from pipelines.ids import stable_id

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
# Surface forms repeat across a batch (every "Putin"), so keys are memoized; a pure function of the text.
KEY_CACHE_SIZE = 1 << 16

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


def canonical_name(counts: Mapping[str, int]) -> str:
    """The name an entity is shown by: its most frequent full form ("Sergey Lavrov", not "Lavrov"), else its
    most frequent form.

    Only the counts decide, never which form came first, so the name is the same however the mentions were
    batched, sharded or ordered. Ties go to more words, then more capitalized words, then code-point order.
    """
    full = [form for form in counts if is_full_name(form)] or list(counts)
    return min(full, key=lambda form: (-counts[form], -len(form.split()), -capitalized_words(form), form))


def capitalized_words(text: str) -> int:
    return sum(word[:1].isupper() for word in text.split())


def label_rank(label: str) -> int:
    return LABEL_PRIORITY.index(label) if label in LABEL_PRIORITY else len(LABEL_PRIORITY)


def vote(votes: Mapping[str, float]) -> str:
    """The winning label: the family with most votes (GPE/LOC/FAC pool theirs), then its strongest label."""
    families: dict[str, float] = defaultdict(float)
    for label, weight in votes.items():
        families[label_family(label)] += weight
    return max(votes, key=lambda label: (families[label_family(label)], votes[label], -label_rank(label)))


def name_tokens(text: str) -> tuple[str, ...]:
    """Person-key words of a name; hyphenated 'Abe-Putin' stays one word, so it is never taken for a full name."""
    return tuple(key for key in (person_key(word) for word in text.split()) if key)


def is_full_name(text: str) -> bool:
    """Two or more words, first and last capitalized: 'nonpartisan pan-democrat' is no one's name."""
    words = text.split()
    return len(words) >= 2 and words[0][:1].isupper() and words[-1][:1].isupper()
