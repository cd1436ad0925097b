"""What a clause ending in a colon says about the quotation after it: who announces it, by name or statement.

`X issued a statement: "…"` (the statement's subject or author), `Rep. Gowdy: "…"`, `From the report: "…"`
or `Transcript as follows: "…"` (a name alone), a digest's `… - Pew Research: "…"` (a name after a dash).
attribution.py asks these for the clause before a quote; learned.py asks `announces` before taking the
clause's subject, whoever it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipelines.nlp.quotes.phrases import DASHES, OBJECT_DEPS, STATEMENT_NOUNS, nominal_after, phrase_of, subject_of
from pipelines.nlp.quotes.regions import VERBAL_POS

if TYPE_CHECKING:
    from spacy.tokens import Token

SOURCE_OPENERS = frozenset({"from"})  # `From the report: "…"`
AS_FOLLOWS = ("as", "follows")
TITLE_OF = "of"  # `Secretary of State John Kerry`: the one preposition of a title
# ` - Mark Blumenthal and Jon Cohen` / ` -More from Pew Research` ending the clause before a colon: names only
_NAME_WORD = r"[A-Z][\w.'’-]*"
_DASH_LABEL = re.compile(
    rf"\s[{DASHES}]\s*(?:(?i:more\s+)?(?i:from)\s+)?(?P<name>{_NAME_WORD}(?:[ \t]+(?:{_NAME_WORD}|and|&)){{0,7}})\s*\Z"
)


def announces(head: Sequence[Token]) -> bool:
    """The clause before the quotation ends in a colon: it announces what follows."""
    return len(head) > 1 and head[-1].text == ":"


def colon_statement(head: Sequence[Token], authored_only: bool = False) -> list[Token]:
    """`The board issued a statement: "…"`: before a colon, a clause whose verb takes a statement noun as its
    object announces the quote; that verb's subject speaks, unless the noun names its author (`rated a
    statement by Lee: "…"`). `The menu lists three dishes: "…"` announces none."""
    if not announces(head):
        return []
    allowed = {t.i for t in head}
    for verb in (
        t for t in head if t.pos_ in VERBAL_POS and (t.head.i == t.i or t.head.i not in allowed)
    ):  # clause heads
        noun = next((c for c in verb.children if c.dep_ in OBJECT_DEPS and c.lower_ in STATEMENT_NOUNS), None)
        if noun is not None:
            author = _statement_author(noun, allowed)
            if author is None and authored_only:
                return []
            speaker = author or subject_of(verb, allowed)
            return phrase_of(speaker, allowed) if speaker is not None and speaker.i in allowed else []
    return []


def labelled(head: Sequence[Token]) -> list[Token]:
    """`Rep. Trey Gowdy: "…"` (a transcript's turn), `From the report: "…"` or `Transcript as follows: "…"`: a
    name alone before the colon; or a digest's item naming its source after a dash (`POLLS NOT WRONG, JUST
    EARLY - Mark Blumenthal and Jon Cohen: "…"`, `… all along -More from Pew Research: "…"`)."""
    if not announces(head):
        return []
    dashed = _DASH_LABEL.search("".join(t.text_with_ws for t in head[:-1]))
    if dashed is not None:
        start, end = head[0].idx + dashed.start("name"), head[0].idx + dashed.end("name")
        return [t for t in head if start <= t.idx < end]
    label = head[:-1]
    follows = tuple(t.lower_ for t in label[-2:]) == AS_FOLLOWS
    if follows:  # `Transcript as follows: "…"`, `The full statement as follows: "…"`
        label = label[:-2]
    start = 1 if label and label[0].lower_ in SOURCE_OPENERS else 0
    name = nominal_after(label, start)
    whole = bool(label) and start + len(name) == len(label)
    if whole and (start or follows or any(t.pos_ == "PROPN" for t in name)):
        return name
    return list(label) if not (start or follows) and _titled_name(label) else []


def _titled_name(label: Sequence[Token]) -> bool:
    """`Former secretary of state Hillary Rodham Clinton: "…"`: a transcript's turn may give the speaker's title,
    "of" and all, before the name. No verb, no preposition but "of", capitalized, and a proper noun last."""
    return (
        label[0].text[:1].isupper()
        and label[-1].pos_ == "PROPN"
        and not any(t.pos_ in VERBAL_POS or (t.pos_ == "ADP" and t.lower_ != TITLE_OF) for t in label)
    )


def _statement_author(noun: Token, allowed: set[int]) -> Token | None:
    """Whose statement it is when the noun says so: `rated Lee's statement: "…"`, `read a statement by Lee: "…"`."""
    for child in noun.children:
        if child.dep_ == "poss" and child.pos_ in ("PROPN", "NOUN") and child.i in allowed:
            return child
        if child.dep_ == "prep" and child.lower_ == "by":
            return next((c for c in child.children if c.dep_ == "pobj" and c.i in allowed), None)
    return None
