"""Credit lines of wire copy: the one dateline pattern and the one byline pattern.

Normalization cuts a dateline off the lead and keeps a byline apart; the NER guard in nlp.model blocks
both wherever a line of a body starts with one. Both read these definitions, so they cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted((name.capitalize() for name in MONTHS), key=len, reverse=True))
# "MOSCOW, September 21. /TASS/.", "LONDON (Reuters) -", "KYIV, Ukraine (AP) —",
# "NEW YORK, Jan. 5, 2024 /PRNewswire/ --".
# Whitespace never crosses a line break, so the pattern reads a paragraph and a line of a whole body alike.
DATELINE_RE = re.compile(
    rf"""
    (?P<place>[A-Z][A-Z'.\-]+(?:\ [A-Z][A-Z'.\-]+){{0,3}}
        (?:,\ (?!(?:{_MONTH})\b)[A-Z][A-Za-z.\-]+(?:\ [A-Z][A-Za-z.\-]+){{0,2}})?)
    (?:,\ (?P<month>{_MONTH})\.?\ (?P<day>\d{{1,2}})(?:,\ (?P<year>(?:19|20)\d\d))?)?
    \.?[^\S\n]*
    (?:\((?P<agency_paren>[A-Za-z][\w.&\ -]{{0,30}})\)|/(?P<agency_slash>[A-Za-z][\w.&\ -]{{0,30}})/)?
    [^\S\n]*(?P<sep>\.|:|-{{1,2}}|–|—)[^\S\n]+
    """,
    re.VERBOSE,
)
# Without an agency or a date, only a dash makes a capitalised word a dateline ("PARIS —", not "NOTE:").
_DASHES = frozenset({"-", "--", "–", "—"})
_LINE_START = re.compile(r"^[ \t]*", re.MULTILINE)

# What opens a credit line: a bullet or dash before an agency ("• Kyodo", "— Reuters"), or "By" before a name.
# In a body only a capitalised "By" opens one (a line starting "by ..." continues a wrapped sentence); a
# paragraph the boilerplate rules already call a byline loses its opener in any case.
_CREDIT_MARK = r"[•·▪◦■►|*\-–—]"
_CREDIT_BY = r"B[Yy]"
_BYLINE_OPENER = re.compile(rf"{_CREDIT_MARK}[ \t]*|{_CREDIT_BY}[ \t]+", re.IGNORECASE)
# A credit line standing alone: "• Kyodo", "— Reuters", "By Jane Doe, AP", "(Reporting by ...)", "Photo: AFP".
BYLINE_RE = re.compile(
    r"^[ \t]*(?:"
    rf"{_CREDIT_MARK}[ \t]*\S+(?:[ \t]+\S+){{0,2}}"
    rf"|{_CREDIT_BY}[ \t]+[A-Z][^\n.!?]{{0,80}}"
    r"|\(?(?:Additional[ \t]+)?(?:Reporting|Writing|Editing)[ \t]+by\b[^\n]*"
    r"|(?:Photo|Image|Picture|Credit)s?[ \t]*[:/|][^\n]*"
    r"|©[^\n]*"
    r")[ \t]*$",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Dateline:
    """`MOSCOW, September 21. /TASS/.`: place, agency and a partial date; an unknown year stays None."""

    text: str
    place: str
    agency: str | None
    month: int | None
    day: int | None
    year: int | None


def _dateline_at(text: str, pos: int) -> re.Match[str] | None:
    """A dateline starting at `pos`; a bare capitalised word needs a dash to count."""
    match = DATELINE_RE.match(text, pos)
    if not match:
        return None
    if not (match["agency_paren"] or match["agency_slash"] or match["month"] or match["sep"] in _DASHES):
        return None
    place = match["place"]
    if len(place.replace(" ", "")) < 2 or not any(ch.isalpha() for ch in place):
        return None
    return match


def parse_dateline(paragraph: str) -> Dateline | None:
    """Recognise a wire dateline at the start of a paragraph, with whatever part of the date it gives."""
    match = _dateline_at(paragraph, 0)
    if not match:
        return None
    agency = match["agency_paren"] or match["agency_slash"]
    return Dateline(
        text=match.group(0).strip(),
        place=match["place"],
        agency=agency.strip() if agency else None,
        month=MONTHS[match["month"].lower()] if match["month"] else None,
        day=int(match["day"]) if match["day"] else None,
        year=int(match["year"]) if match["year"] else None,
    )


def dateline_date(dateline: Dateline, read_at: datetime) -> tuple[datetime, bool] | None:
    """The day a dateline gives (midnight UTC), and whether its year was inferred; None without month and day.

    Wire copy often leaves the year out ("MOSCOW, Nov. 15 (Reuters) -"): it is the latest such day not after
    `read_at` (when the input was fetched or read), so "Dec. 31" read on January 2nd is last year's.
    """
    if dateline.month is None or dateline.day is None:
        return None
    if dateline.year is not None:
        day = _day(dateline.year, dateline.month, dateline.day)
        return (datetime(day.year, day.month, day.day, tzinfo=UTC), False) if day else None
    latest = read_at.astimezone(UTC).date()
    for year in range(latest.year, latest.year - 8, -1):  # Feb. 29 waits for a leap year
        day = _day(year, dateline.month, dateline.day)
        if day is not None and day <= latest:
            return datetime(day.year, day.month, day.day, tzinfo=UTC), True
    return None


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # "Sept. 31"
        return None


def dateline_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of the datelines that open any line of `text`: they name the place of filing."""
    found = (_dateline_at(text, line.end()) for line in _LINE_START.finditer(text))
    return [(match.start(), match.end("sep")) for match in found if match]


def byline_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of the lines of `text` that are credit lines: they name the publisher, not an actor."""
    return [match.span() for match in BYLINE_RE.finditer(text)]


def byline_credit(byline: str) -> str:
    """The credit a byline gives, without its bullet or leading "By": "• Reuters" -> "Reuters"."""
    lead = _BYLINE_OPENER.match(byline)
    return byline[lead.end() :] if lead else byline
