"""An article's salient terms: what the events step compares two reports of one happening on.

Computed from the stage's one parse, for every article alone, so an article's terms never depend on the
batch, its order or the history it meets. A term is
- a word of a named entity (a person, a place, an organisation, a group) or another proper noun, with
  its case (`Vinar`, `Sonoma`): who and where;
- a number (`4.6`, `137`): the magnitude, the toll, the age that tell one happening from another of its kind;
- a noun, verb or adjective, lowercase (`earthquake`, `arrested`): what happened. Not its lemma: the stage
  runs without spaCy's lemmatizer (a third of tagging time), and on ECB+ dev lemmas gained 0.01 B-cubed F1.
Stop words, punctuation and one-letter words are not terms.

Beside the terms, an article's people: the last word of every person it names, and its principal person,
the one it names most often (twice or more, more often than any other). Two reports of one arrest name
the arrested; two arrests of two people are two events however alike their words (`grouping.related`).

Weight = (1 + ln count) * class weight * rarity**2, where rarity = RARITY_CEILING - the word's Zipf
frequency in English at large (wordfreq: 7.7 for "the", about 4 for "earthquake", 0 for a name it has
never seen). A fixed measure of commonness plays the part of IDF: an IDF counted over the stored articles
would give the same article other weights depending on what arrived before it. Places and numbers count
double: on ECB+ dev, events of the same kind differ most in where and how much. The vector is cut to the
heaviest `stored_terms` and scaled to unit length, so a cosine is a dot product. Its specifics are the
kept terms that are rare words (rarity >= `rare`, no figures): names and places two reports of one
happening share, decided here so the load never needs word frequencies.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING

from pipelines.config import EventConfig
from pipelines.records import ArticleTerms

if TYPE_CHECKING:  # spaCy and wordfreq are imported where a parse is: the load and the CLI never pay for them
    from spacy.tokens import Doc

# Bump when what a term is or how it is weighed changes: stored terms made otherwise are refused on load.
TERMS_SCHEME = "terms-v1"
RARITY_CEILING = 9.0
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
NAME_LABELS = frozenset({"PERSON", "ORG", "NORP", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"})
QUANTITY_LABELS = frozenset({"DATE", "TIME", "CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"})
WORD_POS = frozenset({"NOUN", "VERB", "ADJ"})
DOUBLE = 2.0
_DIGIT = re.compile(r"\d")


def article_terms(article_id: str, raw_id: str, doc: Doc, cfg: EventConfig) -> ArticleTerms:
    """Everything the events step compares an article version on: its terms, rare words and people."""
    terms, weights = salient_terms(doc, cfg.stored_terms)
    specifics = sorted({term.lower() for term in terms if term.isalpha() and rarity(term.lower()) >= cfg.rare})
    principal, people = participants(doc)
    return ArticleTerms(article_id, raw_id, terms, weights, specifics, principal, people)


def is_figure(term: str) -> bool:
    return _DIGIT.search(term) is not None


@lru_cache(maxsize=200_000)
def rarity(term: str) -> float:
    """How uncommon a term is in English at large: 0 for the commonest words, RARITY_CEILING for unseen ones."""
    from wordfreq import zipf_frequency

    return max(0.0, RARITY_CEILING - zipf_frequency(term, "en"))


def salient_terms(doc: Doc, limit: int) -> tuple[list[str], list[float]]:
    """The `limit` heaviest terms of a parsed article, heaviest first (ties by term), weights of unit length."""
    label_of = {token.i: ent.label_ for ent in doc.ents for token in ent}
    counts: dict[str, float] = {}
    forms: dict[str, Counter[str]] = {}
    for token in doc:
        if token.is_stop or token.is_punct or token.is_space or len(token.text) < 2:
            continue
        if not (token.is_alpha or token.like_num):
            continue
        label = label_of.get(token.i)
        if label in PLACE_LABELS:
            key, form, weight = token.text.lower(), token.text, DOUBLE
        elif label in NAME_LABELS or (label is None and token.pos_ == "PROPN"):
            key, form, weight = token.text.lower(), token.text, 1.0
        elif label in QUANTITY_LABELS or token.like_num:
            key, form, weight = token.text.lower(), token.text.lower(), DOUBLE
        elif token.pos_ in WORD_POS:
            key = form = token.lower_
            weight = 1.0
        else:
            continue
        counts[key] = counts.get(key, 0.0) + weight
        forms.setdefault(key, Counter())[form] += 1
    weighted = []
    for key, count in counts.items():
        weight = (1.0 + math.log(count) if count >= 1 else count) * rarity(key) ** 2
        if weight > 0:
            weighted.append((weight, _display(forms[key]), key))
    weighted.sort(key=lambda item: (-item[0], item[2]))
    kept = weighted[:limit]
    norm = math.sqrt(sum(weight * weight for weight, _, _ in kept)) or 1.0
    return [form for _, form, _ in kept], [round(weight / norm, 6) for weight, _, _ in kept]


def participants(doc: Doc) -> tuple[str | None, list[str]]:
    """The article's principal person (see above) or None, and the last words of all its people, sorted."""
    mentions: Counter[str] = Counter()
    for ent in doc.ents:
        if ent.label_ == "PERSON":
            words = [token.text.lower() for token in ent if token.is_alpha]
            if words:
                mentions[words[-1]] += 1
    ranked = mentions.most_common(2)
    principal = (
        ranked[0][0] if ranked and ranked[0][1] >= 2 and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]) else None
    )
    return principal, sorted(mentions)


def _display(forms: Counter[str]) -> str:
    """The commonest spelling of a term in the article (ties: the first in sort order), for labels."""
    return min(forms, key=lambda form: (-forms[form], form))
