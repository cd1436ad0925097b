"""Quote marks paired in raw text, and where each quotation sits among the tokens of its parse.

Pairs straight, curly, guillemet and single curly marks. A quotation running over several paragraphs, with
an opening mark at each one and a closing mark only at its end, is one quotation per paragraph: news writes a
long quote that way, and each paragraph is attributed on its own (the first by its cue, the rest as its
continuation), as PolNeAR's annotators segment it. Pure text work, apart from `locate_quotes`, which maps the
pairs onto a Doc.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc

# opening mark -> the marks that close it
QUOTE_PAIRS: Mapping[str, str] = {"“": "”", "«": "»", "„": "“”", '"': '"', "‘": "’"}
# opening mark -> the other style's marks: they nest inside it, or close it as a typo when its own style does not
OTHER_STYLE: Mapping[str, str] = {"“": '"', '"': "“”"}
_OPEN_CONTEXT = re.compile(r"[\s(\[{—–\-:;,/]")  # what may stand right before an opening mark
_SINGLE_CLOSE_AFTER = re.compile(r"[^\w]|$")  # a closing ’ is not followed by a letter ("don’t")
PARAGRAPH_BREAK = "\n"
STRAIGHT = '"'
MAX_QUOTE_CHARS = 5000  # a "quote" longer than this is an unbalanced mark, not speech
TERMINATORS = frozenset({".", "!", "?"})  # a quotation ending in one closes its sentence
# scanning jumps from mark to mark: the text between them is never read character by character
_OPENING_MARK = re.compile("[" + re.escape("".join(QUOTE_PAIRS)) + "]")
_CLOSE_OR_BREAK: Mapping[str, re.Pattern[str]] = {
    opener: re.compile("[" + re.escape(PARAGRAPH_BREAK + closers + OTHER_STYLE.get(opener, "")) + "]")
    for opener, closers in QUOTE_PAIRS.items()
}

_EITHER_STYLE: Mapping[str, re.Pattern[str]] = {
    opener: re.compile("[" + re.escape(opener + OTHER_STYLE.get(opener, "")) + "]") for opener in QUOTE_PAIRS
}


@dataclass(frozen=True, slots=True)
class QuoteSpan:
    """Character offsets of one quotation: `start:end` is the quoted text, `open_start:close_end` adds the marks
    (no closing mark when a paragraph that the next one reopens ends it)."""

    open_start: int
    start: int
    end: int
    close_end: int


def _opens_at(text: str, i: int) -> bool:
    """An opening mark stands after a space or opening punctuation and before the quoted word."""
    before_ok = i == 0 or bool(_OPEN_CONTEXT.match(text[i - 1]))
    after = text[i + 1] if i + 1 < len(text) else " "
    return before_ok and not after.isspace() and after not in QUOTE_PAIRS.get(text[i], "")


def _closes_at(text: str, j: int, opener: str) -> bool:
    """`’` doubles as the apostrophe: it closes only before a non-letter and not as a plural possessive."""
    if text[j] not in QUOTE_PAIRS[opener]:
        return False
    if opener != "‘":
        return True
    after = text[j + 1 : j + 3]
    if not _SINGLE_CLOSE_AFTER.match(after[:1]):
        return False
    # "the countries’ peoples": a space then a lower-case word after an "s" is a possessive
    return not (text[j - 1] == "s" and after[:1] == " " and after[1:2].islower())


def _other_style(text: str, j: int) -> int:
    """+1 for a mark opening a nested quote of the other style, -1 for one closing it or closing the quote as a typo.

    A `"` where an opening mark stands (after a space or `(`) opens; after a digit it is an inch mark
    (`“a 6'3" man”`) and counts for nothing.
    """
    mark = text[j]
    if mark == STRAIGHT:
        return 0 if text[j - 1].isdigit() else (1 if _opens_at(text, j) else -1)
    return 1 if mark == "“" else -1 if mark == "”" else 0


def _paragraph_reopens(text: str, j: int, opener: str) -> bool:
    """Past the paragraph break at `j`, the next paragraph opens with the same mark: the quote goes on there."""
    k = j
    while k < len(text) and text[k].isspace():
        k += 1
    return k < len(text) and text[k] == opener


def _next_quote_opens_first(text: str, j: int, opener: str, limit: int) -> bool:
    """After an other-style close at `j`, a new quote opens (in either style: `“…," she said. "…”` mixes them
    all) before this style closes anywhere."""
    found = _EITHER_STYLE[opener].search(text, j + 1, limit)
    while found is not None and not _opens_at(text, found.start()):
        found = _EITHER_STYLE[opener].search(text, found.start() + 1, limit)
    if found is None:
        return False
    opens = found.start()
    closers = QUOTE_PAIRS[opener]
    return not any(text.find(closer, j + 1, opens) >= 0 for closer in closers)


def _find_close(text: str, i: int) -> tuple[int, int] | None:
    """Where the quote opened at `i` ends: (end of the quoted text, index after the closing mark).

    The same style closes first, so a nested quote in the other style stays inside (`“he said "no" twice”`);
    an other-style close that no nested quote claims counts only when its own style never closes in the paragraph.
    A paragraph break ends the quote without a mark when the next paragraph reopens it (that paragraph is the
    next quotation), and drops it otherwise.
    """
    opener = text[i]
    candidates = _CLOSE_OR_BREAK[opener]
    limit = min(len(text), i + MAX_QUOTE_CHARS)
    mixed: int | None = None
    nested = 0  # other-style quotes open inside this one
    j = i + 1
    while found := candidates.search(text, j, limit):
        j = found.start()
        if text[j] == PARAGRAPH_BREAK:
            if mixed is None and _paragraph_reopens(text, j, opener):
                return j, j
            break
        if _closes_at(text, j, opener):
            return j, j + 1
        if text[j] in OTHER_STYLE.get(opener, ""):
            step = _other_style(text, j)
            if step < 0 and nested == 0 and mixed is None:
                if _next_quote_opens_first(text, j, opener, limit):
                    return j, j + 1  # `“… so much," Trump said, then “…”`: the later ” is the next quote's
                mixed = j
            nested = max(0, nested + step)
        j += 1
    return (mixed, mixed + 1) if mixed is not None else None


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets without the blanks just inside the marks."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def find_quote_spans(text: str) -> list[QuoteSpan]:
    """Top-level quotations in reading order; marks nested inside a quotation belong to its text."""
    spans: list[QuoteSpan] = []
    i = 0
    while found := _OPENING_MARK.search(text, i):
        i = found.start()
        if _opens_at(text, i):
            closed = _find_close(text, i)
            if closed is not None:
                start, end = _trimmed(text, i + 1, closed[0])
                if end > start:
                    spans.append(QuoteSpan(i, start, end, closed[1]))
                i = closed[1]
                continue
        i += 1
    return spans


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the quotations sit in the parse: the span holding each token (or -1) and each span's tokens."""

    doc: Doc
    text: str  # doc.text, which spaCy rebuilds from the tokens on every access
    spans: Sequence[QuoteSpan]
    owner: Sequence[int]
    first: Mapping[int, int]
    last: Mapping[int, int]

    def ends_sentence(self, k: int) -> bool:
        """A quotation whose text ends in . ! or ? closes the sentence around it."""
        return self.text[self.spans[k].end - 1] in TERMINATORS


def locate_quotes(doc: Doc, text: str) -> Layout:
    """Find the quotations in `text` (the doc's text) and the tokens each one holds (by offset, not token by token)."""
    import numpy
    from spacy.attrs import IDX

    spans = find_quote_spans(text)
    starts = doc.to_array(IDX)
    # All bounds in one search, in the array's own type (numpy would convert the whole array for each call).
    bounds = starts.searchsorted(
        numpy.array([[s.open_start, s.close_end] for s in spans], dtype=starts.dtype).reshape(-1)
    )
    owner = [-1] * len(doc)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for k, (low, high) in enumerate(
        bounds.reshape(-1, 2).tolist()
    ):  # disjoint and in order: a token lies in one span at most
        if low < high:
            owner[low:high] = [k] * (high - low)
            first[k], last[k] = low, high - 1
    return Layout(doc, text, spans, owner, first, last)
