"""Where a quotation sits in its sentence: the clause before and after it, and what its form says.

The regions attribution.py searches for a cue and speaker (`head_region`, `tail_region`), and the tests both
it and the learned second opinion (learned.py) apply to a quotation: a name or title (`looks_like_name`,
`is_named_term`), a quoted clause (`quotes_a_clause`), direct or partial (`quote_kind`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from pipelines.nlp.quotes.marks import PARAGRAPH_BREAK, TERMINATORS, Layout
from pipelines.nlp.quotes.phrases import CALL_FORMS, FINITE_TAGS, abbreviation_period, is_cue
from pipelines.nlp.quotes.speakers import SUBJECT_DEPS, WORD_RE

if TYPE_CHECKING:
    from spacy.tokens import Token

DIRECT = "direct"  # a full quoted statement
PARTIAL = "partial"  # a quoted fragment inside a reported sentence
COLON_OR_COMMA = frozenset({":", ",", "—", "–"})
MAX_NAME_WORDS = 8
NAMING_WORDS = frozenset(
    {
        "so-called",
        "dubbed",
        "named",
        "titled",
        "entitled",
        "labelled",
        "labeled",
        "called",
        "nicknamed",
        "termed",
        "branded",
        "coined",
        "codenamed",
        "code-named",
    }
)
KNOWN_AS = ("known", "as")  # `a group known as "…"` names it
NAME_FUNCTION_WORDS = frozenset({"of", "the", "and", "for", "in", "on", "a", "an", "to", "at", "de", "la", "vs"})
_ENDS_LIKE_SPEECH = re.compile(r"[,.!?;:…]\s*$")
INSIDE_METHODS = frozenset({"embedded", "sentence-end"})  # the quote is a fragment of a reported sentence
VERBAL_POS = frozenset({"VERB", "AUX"})
MODIFIER_DEPS = frozenset({"amod", "compound"})  # "the forgotten corner": a participle describing a noun


def breaks_clause(token: Token) -> bool:
    return (token.text in TERMINATORS and not abbreviation_period(token)) or (
        token.is_space and PARAGRAPH_BREAK in token.text
    )


def head_region(layout: Layout, k: int) -> list[Token]:
    """The clause before quote k, back to the sentence start; an earlier quote inside the clause is skipped.

    A paragraph ending in a colon ("Ellison wrote:") introduces the quote that opens the next paragraph.
    """
    doc, owner = layout.doc, layout.owner
    region: list[Token] = []
    i = layout.first[k] - 1
    while i >= 0:
        token = doc[i]
        other = owner[token.i]
        if other >= 0:
            if layout.ends_sentence(other):
                break
            i = layout.first[other] - 1
            continue
        if breaks_clause(token):
            if not (token.is_space and not words_of(region) and i > 0 and doc[i - 1].text == ":"):
                break
        elif not token.is_space:
            region.append(token)
        i -= 1
    return region[::-1]


def tail_region(layout: Layout, k: int) -> list[Token]:
    """Tokens after quote k up to the end of its sentence, a paragraph break or the next quotation."""
    doc, owner = layout.doc, layout.owner
    region: list[Token] = []
    titles: dict[int, bool] = {}  # per quotation, not per token
    for i in range(layout.last[k] + 1, len(doc)):  # indexing, not a slice: an empty Doc slice rebuilds doc.text
        token = doc[i]
        if owner[i] >= 0 and owner[i] not in titles:
            titles[owner[i]] = _is_title(layout, owner[i])  # Ana "Pixie" Ruiz, on "Meet the Press."
        if (owner[i] >= 0 and not titles[owner[i]]) or (breaks_clause(token) and owner[i] < 0):
            break
        if not token.is_space:
            region.append(token)
    return region


def _is_title(layout: Layout, k: int) -> bool:
    """A short title-cased quotation (a nickname, a show's name) that reads as part of the text around it."""
    span = layout.spans[k]
    return title_cased(layout.text[span.start : span.end])


def words_of(tokens: Iterable[Token]) -> list[Token]:
    return [t for t in tokens if not t.is_punct and not t.is_space]


def is_named_term(head: Sequence[Token]) -> bool:
    """`the so-called "green corridor"`, `a plan called "…"`, `a group known as "…"`: a name, not speech.

    A call verb with a subject of its own (`what the ministry calls "…"`) characterizes in someone's words instead.
    """
    if tuple(t.lower_ for t in head[-len(KNOWN_AS) :]) == KNOWN_AS:
        return True
    if not head or head[-1].lower_ not in NAMING_WORDS:
        return False
    return not (head[-1].lower_ in CALL_FORMS and any(c.dep_ in SUBJECT_DEPS for c in head[-1].children))


def title_cased(quote_text: str) -> bool:
    """At most MAX_NAME_WORDS words, every one but function words capitalized: "Meet the Press", "Pixie"."""
    words = WORD_RE.findall(quote_text)
    content = [w for w in words if w.lower() not in NAME_FUNCTION_WORDS]
    return bool(content) and len(words) <= MAX_NAME_WORDS and all(w[0].isupper() or w[0].isdigit() for w in content)


def looks_like_name(quote_text: str, head: Sequence[Token]) -> bool:
    """A short title-cased fragment is a name ("Bastion", "The Internet Explorer 6 Countdown"), not speech.

    Closing punctuation inside the marks ("named “Better Idea of Afghan Girls,” scored") only argues for
    speech when the quote opens its clause or follows a cue ("“No,” he said", `said "Yes."`).
    """
    if not title_cased(quote_text):
        return False
    mid_clause = bool(head) and head[-1].text not in COLON_OR_COMMA and not is_cue(head[-1])
    return mid_clause or not _ENDS_LIKE_SPEECH.search(quote_text)


def quote_kind(head: Sequence[Token], method: str) -> str:
    """Partial when the quote sits inside a reported sentence ("vowed to “…”"), direct when it opens its clause.

    The second part of an interrupted quote (`“…,” he said, “and …”`) opens its clause too: it is direct.
    """
    opens_clause = not words_of(head) or head[-1].text in COLON_OR_COMMA or is_cue(head[-1])
    return DIRECT if opens_clause and method not in INSIDE_METHODS else PARTIAL


def _quoted_tokens(layout: Layout, k: int) -> Iterator[Token]:
    return (layout.doc[i] for i in range(layout.first[k], layout.last[k] + 1))


def quotes_a_clause(layout: Layout, k: int) -> bool:
    """The quotation holds a verb of its own ("would gut the budget"), not just a noun phrase ("the next big thing")."""
    return any(t.pos_ in VERBAL_POS and t.dep_ not in MODIFIER_DEPS for t in _quoted_tokens(layout, k))


def states_something(layout: Layout, k: int) -> bool:
    """The quotation is a statement: one of its verbs is finite or has a subject (`Let's defeat her`), unlike a
    list's item the parser took for an order (`"chicken with rice and beans."`)."""
    return any(
        t.pos_ in VERBAL_POS and (t.tag_ in FINITE_TAGS or any(c.dep_ in SUBJECT_DEPS for c in t.children))
        for t in _quoted_tokens(layout, k)
    )
