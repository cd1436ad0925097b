"""Plain-text normalization composed: boilerplate out, title lines split off, dateline cut, language found.

The rules live one concern a module (paragraphs, boilerplate, datelines, language); this module owns
only the title split, which needs the dateline and language rules, and the order they run in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.text.boilerplate import BoilerplateRules, strip_boilerplate
from pipelines.text.datelines import Dateline, parse_dateline
from pipelines.text.language import (
    LanguageDetector,
    LanguageResult,
    detect_languages,
    language_detector,
)
from pipelines.text.paragraphs import clean_line, line_key

TITLE_MAX_WORDS = 20
TITLE_MAX_CHARS = 200
SUBTITLE_MIN_WORDS = 4
SUBTITLE_MAX_WORDS = 45
_TITLE_BAD_END = re.compile(r"[.,;:–—-]$")
_SENTENCE_END = re.compile(r"[.!?…]$")


def looks_like_headline(paragraph: str) -> bool:
    """Short, no sentence-final full stop, starts like a heading: a headline, not a lead sentence."""
    words = paragraph.split()
    return (
        0 < len(words) <= TITLE_MAX_WORDS
        and len(paragraph) <= TITLE_MAX_CHARS
        and not _TITLE_BAD_END.search(paragraph)
        and (paragraph[0].isupper() or paragraph[0].isdigit() or paragraph[0] in "\"“‘«'")
        and parse_dateline(paragraph) is None
    )


def _looks_like_subtitle(paragraph: str) -> bool:
    """A standfirst reads as a phrase of some length; a two-word line is a section heading instead."""
    return SUBTITLE_MIN_WORDS <= len(paragraph.split()) <= SUBTITLE_MAX_WORDS and not _SENTENCE_END.search(paragraph)


@dataclass(frozen=True, slots=True)
class TitleLines:
    title: str | None
    alt_title: str | None
    alt_title_language: str | None
    subtitle: str | None
    body: list[str]


def split_title(paragraphs: Sequence[str], detect: LanguageDetector) -> TitleLines:
    """Headline, then optionally its original-language headline and/or a standfirst; never a lead sentence.

    With no headline-like first paragraph the title stays None and the caller flags it.
    """
    rest = list(paragraphs)
    if len(rest) < 2 or not looks_like_headline(rest[0]):
        return TitleLines(None, None, None, None, rest)
    title = rest.pop(0)
    alt_title = alt_language = subtitle = None
    if len(rest) >= 2 and looks_like_headline(rest[0]):
        title_language = detect.language_of(title)
        candidate_language = detect.language_of(rest[0])
        if candidate_language and title_language and candidate_language != title_language:
            alt_title, alt_language = rest.pop(0), candidate_language
    if len(rest) >= 2 and _looks_like_subtitle(rest[0]):
        subtitle = rest.pop(0)
    return TitleLines(title, alt_title, alt_language, subtitle, rest)


@dataclass(frozen=True, slots=True)
class NormalizedText:
    title: str | None
    alt_title: str | None
    alt_title_language: str | None
    subtitle: str | None
    byline: str | None
    dateline: Dateline | None
    body_text: str
    language: LanguageResult


def normalize_paragraphs(
    paragraphs: Sequence[str],
    rules: BoilerplateRules,
    *,
    title: str | None = None,
    detect_title: bool = True,
    detect: LanguageDetector | None = None,
) -> NormalizedText:
    """Boilerplate out, title lines split off (unless the source gave a title), dateline parsed off the lead."""
    detect = detect or language_detector()
    stripped = strip_boilerplate(paragraphs, rules)
    kept = stripped.kept
    if title is not None:
        title = clean_line(title) or None
    if title is None and detect_title:
        lines = split_title(kept, detect)
    else:
        body = [p for p in kept if line_key(p) != line_key(title)] if title else list(kept)
        lines = TitleLines(title, None, None, None, body)
    body = list(lines.body)
    dateline = parse_dateline(body[0]) if body else None
    if dateline:
        lead = body[0][len(dateline.text) :].lstrip()
        body = [lead, *body[1:]] if lead else body[1:]
    extra = [line for line in (lines.title, lines.alt_title, lines.subtitle) if line]
    return NormalizedText(
        title=lines.title,
        alt_title=lines.alt_title,
        alt_title_language=lines.alt_title_language,
        subtitle=lines.subtitle,
        byline=stripped.byline,
        dateline=dateline,
        body_text="\n\n".join(body),
        language=detect_languages(body, extra, detect),
    )
