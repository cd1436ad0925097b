"""The one dateline and byline definition: parsed off a lead by normalization, blocked by the NER guard."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.nlp.model import structural_spans
from pipelines.text.datelines import (
    Dateline,
    byline_credit,
    byline_spans,
    dateline_date,
    dateline_spans,
    parse_dateline,
)

LEADS = [
    "MOSCOW, September 21. /TASS/. Talks began.",
    "WASHINGTON (Reuters) - The Senate voted.",
    "LONDON, March 3 (AP) — Britain said.",
    "NEW YORK, Jan. 5, 2024 /PRNewswire/ -- Acme said.",
    "KYIV, Ukraine (AP) — Forces moved.",
    "PARIS — The government fell.",
]


@pytest.mark.parametrize(
    ("lead", "place", "agency", "month", "day", "year"),
    [
        ("MOSCOW, September 21. /TASS/. Talks began.", "MOSCOW", "TASS", 9, 21, None),
        ("WASHINGTON (Reuters) - The Senate voted.", "WASHINGTON", "Reuters", None, None, None),
        ("LONDON, March 3 (AP) — Britain said.", "LONDON", "AP", 3, 3, None),
        ("NEW YORK, Jan. 5, 2024 /PRNewswire/ -- Acme said.", "NEW YORK", "PRNewswire", 1, 5, 2024),
        ("KYIV, Ukraine (AP) — Forces moved.", "KYIV, Ukraine", "AP", None, None, None),
        ("PARIS — The government fell.", "PARIS", None, None, None, None),
    ],
)
def test_datelines_are_parsed_with_partial_dates(lead, place, agency, month, day, year) -> None:
    dateline = parse_dateline(lead)
    assert dateline is not None
    assert (dateline.place, dateline.agency, dateline.month, dateline.day, dateline.year) == (
        place,
        agency,
        month,
        day,
        year,
    )


@pytest.mark.parametrize(
    "lead", ["NATO said on Monday it would meet.", "US stocks rose. Investors cheered.", "I. Introduction"]
)
def test_ordinary_sentences_are_not_datelines(lead: str) -> None:
    assert parse_dateline(lead) is None


@pytest.mark.parametrize("lead", LEADS)
def test_the_guard_blocks_exactly_the_dateline_normalization_parses_on_any_line(lead: str) -> None:
    text = f"Talks resume\n\n  {lead}\n\nNothing else here."
    start = text.index(lead)
    dateline = parse_dateline(lead)
    assert dateline is not None
    assert dateline_spans(text) == [(start, start + len(dateline.text))]


@pytest.mark.parametrize(
    "line", ["NATO-led forces moved in.", "READ MORE: the budget", "US stocks rose. Investors cheered.", "PARIS —"]
)
def test_labels_and_capitalised_words_are_no_datelines_for_the_guard_either(line: str) -> None:
    assert dateline_spans(f"Lead paragraph.\n{line}\n") == []
    assert parse_dateline(line) is None


def test_credit_lines_are_found_whole_wherever_a_line_is_one() -> None:
    credits = ["• Kyodo", "— Reuters", "By Jane Doe, AP", "(Reporting by Tom Roe; Editing by Ann Poe)", "Photo: AFP"]
    text = "\n\n".join(["Lavrov met Kishida in Moscow.", *credits, "He said talks would go on."])
    assert [text[start:end] for start, end in byline_spans(text)] == credits


def test_a_wrapped_sentence_going_on_with_by_is_no_credit_line() -> None:
    text = "The bridge was designed in 1931\nby Ammann and Whitney and opened two years later.\n"
    assert byline_spans(text) == []


def test_the_guard_reads_both_patterns() -> None:
    text = "• Kyodo\n\nMOSCOW, September 21. /TASS/. Lavrov said talks would go on."
    assert structural_spans(text) == [*byline_spans(text), *dateline_spans(text)]
    assert [text[start:end] for start, end in structural_spans(text)] == ["• Kyodo", "MOSCOW, September 21. /TASS/."]


@pytest.mark.parametrize(
    ("byline", "credit"), [("• Reuters", "Reuters"), ("By Jane Doe", "Jane Doe"), ("Jane Doe", "Jane Doe")]
)
def test_a_byline_credit_is_the_line_without_its_opener(byline: str, credit: str) -> None:
    assert byline_credit(byline) == credit


@pytest.mark.parametrize(
    ("month", "day", "year", "read_at", "expected"),
    [
        (11, 15, None, datetime(2024, 11, 15, 23, 0, tzinfo=UTC), (datetime(2024, 11, 15, tzinfo=UTC), True)),
        (12, 31, None, datetime(2025, 1, 2, tzinfo=UTC), (datetime(2024, 12, 31, tzinfo=UTC), True)),  # last year's
        (2, 29, None, datetime(2025, 3, 1, tzinfo=UTC), (datetime(2024, 2, 29, tzinfo=UTC), True)),  # a leap year back
        (1, 5, 2022, datetime(2025, 3, 1, tzinfo=UTC), (datetime(2022, 1, 5, tzinfo=UTC), False)),
        (9, 31, None, datetime(2025, 3, 1, tzinfo=UTC), None),  # no such day
        (None, None, None, datetime(2025, 3, 1, tzinfo=UTC), None),
    ],
)
def test_a_dateline_day_is_the_latest_such_day_not_after_the_read(month, day, year, read_at, expected) -> None:
    assert dateline_date(Dateline("X", "X", None, month, day, year), read_at) == expected
