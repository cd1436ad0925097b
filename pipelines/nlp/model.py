"""The spaCy pipeline, loaded once per process and shared by the entity and quote stages (one parse per article).

Besides loading, this module decides which articles the model may read (language gating) and adds one
small component, run first, that keeps structure the statistical NER cannot see: no entity may cross a
line break, and bylines, datelines and text in another script are never read as entities.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, cast

from pipelines.records import ArticleText
from pipelines.text.datelines import byline_spans, dateline_spans

if TYPE_CHECKING:
    import numpy
    from spacy.language import Language
    from spacy.tokenizer import Tokenizer
    from spacy.tokens import Doc
    from thinc.types import Ints2d

DEFAULT_BATCH_SIZE = 64
# The longest text parsed in one piece: spaCy refuses texts over nlp.max_length (1,000,000 characters) and its
# parser and NER take memory in proportion to a text's length. A longer article (a transcript, a ruling, a
# live blog) is parsed in windows of at most this many characters, cut at paragraph ends (`text_windows`), and
# the pieces are joined into one Doc in document coordinates. A constant: a parse never depends on the batch.
WINDOW_CHARS = 50_000
# Where a window may end, best first: after a paragraph, a line, a sentence, a space; else at the limit.
_WINDOW_ENDS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"[.!?]['\"’”»)]*\s+"), re.compile(r"\s+"))
# Components no stage reads: lemmas are not used, and excluding them saves a third of tagging time.
EXCLUDED_COMPONENTS = ("lemmatizer",)
GUARD_COMPONENT = "newsflow_guard"
# A quotation mark glued to the word after it, behind punctuation: `paranoia,”Clinton said`, `said,“Look`. The
# default tokenizer keeps `paranoia,”Clinton` as one word, so neither the quotation's end nor its speaker can be
# found; splitting off the punctuation and the mark gives the tokens a space would have given.
GLUED_QUOTE_INFIXES = (
    r"(?<=\w)[,.!?;:](?=[\"“”][^\W\d_])",
    r"(?<=\w[,.!?;:])[\"“”](?=[^\W\d_])",
)
# What a long text's joined Doc keeps of its windows' parses (`parse_in_windows`): everything the stages read
# (tags, morphology, the tree and its sentences, entities, token norms), in groups loaded together. The
# tree's columns go together: spaCy rebuilds sentences from heads and labels only when it gets both.
JOINED_ATTRS = (("TAG", "POS", "MORPH", "NORM"), ("HEAD", "DEP", "SENT_START"), ("ENT_IOB", "ENT_TYPE"))
SENTENCE_COMPONENTS = frozenset({"parser", "senter", "sentencizer"})
# spaCy's code for its multi-language pipelines, which cover every language.
MULTILINGUAL = "xx"
# Languages written in Latin script: for their models, letters of any other script are foreign text.
LATIN_SCRIPT_LANGUAGES = frozenset(
    [
        "af",
        "ca",
        "cs",
        "da",
        "de",
        "en",
        "es",
        "et",
        "eu",
        "fi",
        "fr",
        "ga",
        "hr",
        "hu",
        "id",
        "is",
        "it",
        "lb",
        "lt",
        "lv",
        "ms",
        "nb",
        "nl",
        "pl",
        "pt",
        "ro",
        "sk",
        "sl",
        "sq",
        "sv",
        "tl",
        "tr",
        "vi",
    ]
)

SKIP_EMPTY = "empty body_text"
SKIP_UNKNOWN_LANGUAGE = "language not identified"
SKIP_LANGUAGE = "language {language!r} not covered by model {model!r} ({model_language!r})"

# Letters outside Latin (Greek, Cyrillic, Arabic, Indic, CJK, ...): wrong-language text for a Latin model.
NON_LATIN_LETTER_RE = re.compile(r"[\u0370-\u1dff\u2c00-\u2dff\u3040-\ud7ff\uf900-\ufaff\ufe70-\ufeff]")
LINE_BREAK_RE = re.compile("\n")


@dataclass(frozen=True, slots=True)
class ParsedArticle:
    """An article and its parse; `doc` is None when the model may not read it, and `skip_reason` says why."""

    article: ArticleText
    doc: Doc | None
    skip_reason: str | None = None


@functools.lru_cache(maxsize=4)
def load_pipeline(name: str) -> Language:
    """The installed spaCy pipeline `name` (Settings.spacy_model), loaded once per process and name.

    The guard runs first and a sentence splitter is guaranteed, whatever components the package ships; a quotation
    mark glued to the next word is split off it (GLUED_QUOTE_INFIXES).
    """
    import spacy

    nlp = spacy.load(name, exclude=list(EXCLUDED_COMPONENTS))
    infixes = [*(nlp.Defaults.infixes or ()), *GLUED_QUOTE_INFIXES]
    cast("Tokenizer", nlp.tokenizer).infix_finditer = spacy.util.compile_infix_regex(infixes).finditer
    register_guard()
    nlp.add_pipe(GUARD_COMPONENT, first=True)
    if not SENTENCE_COMPONENTS.intersection(nlp.pipe_names):
        nlp.add_pipe("sentencizer")
    return nlp


def register_guard() -> None:
    """Register the guard factory lazily, so importing this module never imports spaCy."""
    from spacy.language import Language

    if not Language.has_factory(GUARD_COMPONENT):
        Language.component(GUARD_COMPONENT, func=guard_doc)


def guard_doc(doc: Doc) -> Doc:
    """Block line breaks, credit lines, datelines and foreign-script tokens from NER; start a sentence at each line.

    Matches are found in the text and mapped to tokens by their offsets, never by a Python loop over every
    token, and blocked tokens go to spaCy as runs: the guard runs on every article, before the model.
    """
    from spacy.attrs import IDX, SENT_START

    text = doc.text  # spaCy rebuilds it on every access
    starts = doc.to_array(IDX)
    breaks = _tokens_at(starts, LINE_BREAK_RE, text)  # newlines only ever sit in whitespace tokens
    blocked = set(breaks)
    if doc.lang_ in LATIN_SCRIPT_LANGUAGES:
        blocked.update(_tokens_at(starts, NON_LATIN_LETTER_RE, text))
    for start, end in structural_spans(text):
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is not None:
            blocked.update(range(span.start, span.end))
    if breaks:  # Token.is_sent_start's setter scans the whole doc on every call: set them in one array
        sent_starts = doc.to_array(SENT_START)
        sent_starts[[i + 1 for i in breaks if i + 1 < len(doc)]] = 1
        doc.from_array([SENT_START], cast("Ints2d", sent_starts))
    doc.set_ents([], blocked=[doc[start:end] for start, end in _runs(sorted(blocked))], default="unmodified")
    return doc


def _tokens_at(starts: numpy.ndarray, pattern: re.Pattern[str], text: str) -> list[int]:
    """Indices of the tokens holding a match of `pattern` (token start offsets `starts`), ascending, once each."""
    positions = [match.start() for match in pattern.finditer(text)]
    if not positions:
        return []
    return sorted(set((starts.searchsorted(positions, side="right") - 1).tolist()))


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted token indices as (start, end) runs of consecutive ones: one blocked span each, not one per token."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def structural_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of bylines and datelines: they name the publisher or place of filing, not the story's actors."""
    return [*byline_spans(text), *dateline_spans(text)]


def skip_reason(nlp: Language, article: ArticleText) -> str | None:
    """Why the model must not read this article, or None: never run NER trained on one language on another."""
    if not article.body_text.strip():
        return SKIP_EMPTY
    if nlp.lang == MULTILINGUAL:
        return None
    if not article.language:
        return SKIP_UNKNOWN_LANGUAGE
    language = article.language.split("-")[0].lower()
    if language == nlp.lang:
        return None
    return SKIP_LANGUAGE.format(language=language, model=nlp.meta.get("name", ""), model_language=nlp.lang)


def parse(
    nlp: Language,
    articles: Iterable[ArticleText],
    batch_size: int = DEFAULT_BATCH_SIZE,
    window_chars: int = WINDOW_CHARS,
) -> Iterator[ParsedArticle]:
    """Parse articles with `nlp.pipe` in batches, in input order; uncovered articles come back with a reason, no Doc.

    An article longer than `window_chars` is parsed in windows and comes back as one Doc of its whole text.
    """
    iterator = iter(articles)
    while chunk := list(islice(iterator, batch_size)):
        reasons = [skip_reason(nlp, article) for article in chunk]
        whole = [
            article.body_text
            for article, reason in zip(chunk, reasons, strict=True)
            if reason is None and len(article.body_text) <= window_chars
        ]
        docs = iter(nlp.pipe(whole, batch_size=batch_size))
        for article, reason in zip(chunk, reasons, strict=True):
            if reason:
                yield ParsedArticle(article, None, reason)
            elif len(article.body_text) <= window_chars:
                yield ParsedArticle(article, next(docs))
            else:
                yield ParsedArticle(article, parse_in_windows(nlp, article.body_text, window_chars))


def parse_in_windows(nlp: Language, text: str, window_chars: int) -> Doc:
    """One Doc of `text`, parsed a window at a time (a batch of windows would hold all their parses at once).

    Each window's parse is kept only as its words and the columns the stages read (`JOINED_ATTRS`), then
    freed, and the Doc is built from those: spaCy's `Doc.from_docs` keeps every window's parse, their tensors
    (384 bytes a token) and all of its attributes at once, which took 1.6 GB for a 10 MB text. The columns
    are loaded a few at a time, as `Doc.from_array` copies what it is given.
    """
    import numpy
    from spacy.tokens import Doc

    words: list[str] = []
    spaces: list[bool] = []
    columns: list[numpy.ndarray] = []
    attrs: list[int | str] = [attr for group in JOINED_ATTRS for attr in group]
    for window in text_windows(text, window_chars):
        piece = nlp(window)
        words.extend(token.text for token in piece)
        spaces.extend(bool(token.whitespace_) for token in piece)
        columns.append(piece.to_array(attrs))
        del piece
    doc = Doc(nlp.vocab, words=words, spaces=spaces)
    del words, spaces
    first = 0
    for group in JOINED_ATTRS:
        joined = numpy.concatenate([window[:, first : first + len(group)] for window in columns])
        doc.from_array(list(group), cast("Ints2d", joined))
        first += len(group)
    return doc


def text_windows(text: str, limit: int = WINDOW_CHARS) -> list[str]:
    """`text` in consecutive pieces of at most `limit` characters that join back to it exactly, each cut at
    the last paragraph end before the limit, else the last line end, sentence end or space, else at the limit.

    Entities never cross a line (the guard), so at a paragraph or line end the pieces parse as the whole would.
    """
    pieces, start = [], 0
    while len(text) - start > limit:
        end = start + limit
        for pattern in _WINDOW_ENDS:
            cuts = [match.end() for match in pattern.finditer(text, start + 1, end) if match.end() <= end]
            if cuts:
                end = cuts[-1]
                break
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces
