"""Plain-text rules on articles written for the test, so they hold beyond the seeds."""

from __future__ import annotations

import pytest

from pipelines.config import PROJECT_ROOT
from pipelines.text.normalize import (
    load_boilerplate_rules,
    normalize_paragraphs,
    parse_dateline,
    repeated_edge_lines,
    split_paragraphs,
    strip_boilerplate,
)

RULES = load_boilerplate_rules(PROJECT_ROOT / "schemas" / "boilerplate.yaml")
LEAD = (
    "The city council approved the new budget on Tuesday after a long debate about school funding, "
    "road repairs and the cost of the new library."
)
SECOND = "Council members said the vote was the closest in a decade, with seven in favour and six against."


def normalize(text: str):
    return normalize_paragraphs(split_paragraphs(text), RULES)


def test_paragraphs_keep_lines_and_join_hard_wrapped_blocks() -> None:
    wrapped = (
        "The quick brown fox jumped over the lazy dog while the farmer\n"
        "watched from the porch and wondered whether the fence would\n"
        "hold through another winter of storms and wandering animals.\n"
    )
    assert split_paragraphs(wrapped) == [" ".join(line.strip() for line in wrapped.strip().splitlines())]
    assert split_paragraphs("First line.\nSecond line.\n\n\nThird\u00a0 line.") == [
        "First line.", "Second line.", "Third line."
    ]


def test_headline_becomes_title_and_lead_stays_in_body() -> None:
    result = normalize(f"City approves budget after heated debate\n\n{LEAD}\n\n{SECOND}")
    assert result.title == "City approves budget after heated debate"
    assert result.body_text == f"{LEAD}\n\n{SECOND}"


def test_original_language_headline_becomes_alternate_title() -> None:
    result = normalize(f"Minister visits Berlin for trade talks\n\nМинистр посетит Берлин для торговых переговоров\n\n{LEAD}")
    assert result.title == "Minister visits Berlin for trade talks"
    assert result.alt_title == "Министр посетит Берлин для торговых переговоров"
    assert result.alt_title_language == "ru"
    assert result.language.language == "en"
    assert result.language.mixed and "ru" in result.language.languages


def test_no_title_line_leaves_title_empty_never_the_first_sentence() -> None:
    result = normalize(f"{LEAD}\n{SECOND}")
    assert result.title is None
    assert result.body_text.startswith("The city council approved")


def test_standfirst_without_full_stop_is_a_subtitle() -> None:
    text = (
        "Budget passes\n\nA narrow vote ends months of argument over how the city should pay for its schools\n\n"
        f"{LEAD}\n\n{SECOND}"
    )
    result = normalize(text)
    assert result.title == "Budget passes"
    assert result.subtitle.startswith("A narrow vote")
    assert result.body_text.startswith("The city council")


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
    assert (dateline.place, dateline.agency, dateline.month, dateline.day, dateline.year) == (place, agency, month, day, year)


@pytest.mark.parametrize("lead", ["NATO said on Monday it would meet.", "US stocks rose. Investors cheered.", "I. Introduction"])
def test_ordinary_sentences_are_not_datelines(lead: str) -> None:
    assert parse_dateline(lead) is None


def test_dateline_is_cut_from_the_body_and_kept_apart() -> None:
    result = normalize(f"Talks open in Moscow\n\nMOSCOW, September 21. /TASS/. {LEAD}\n\n{SECOND}")
    assert result.dateline.place == "MOSCOW" and result.dateline.year is None
    assert result.body_text.startswith("The city council")


def test_boilerplate_patterns_bylines_and_trailing_appeals() -> None:
    text = (
        f"All news\n\n• Reuters\n\nHeadline about the budget vote\n\n{LEAD}\n\n{SECOND}\n\n"
        "Support quality journalism: subscribe today for unlimited access.\n\nBy subscribing, you help us."
    )
    result = normalize(text)
    assert result.byline == "Reuters"
    assert result.title == "Headline about the budget vote"
    assert "All news" not in result.body_text and "subscrib" not in result.body_text.lower()
    assert result.body_text.endswith("against.")


def test_bulleted_lists_inside_the_body_are_kept() -> None:
    paragraphs = [LEAD, SECOND, LEAD.upper().lower(), SECOND, "• road repairs", "• school funding"]
    assert strip_boilerplate(paragraphs, RULES).kept == paragraphs


def test_repeated_edge_lines_need_many_different_documents() -> None:
    footer = "Sign in to read the rest"
    docs = [[f"Story {i} lead paragraph with its own words number {i}.", f"Body {i}.", footer] for i in range(6)]
    assert repeated_edge_lines(docs) == {footer.casefold()}
    copies = [["Same story lead.", "Same body.", "Same closing line."]] * 10
    assert repeated_edge_lines(copies) == set()
