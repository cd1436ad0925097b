"""Normalization composed, on articles written for the test, so the rules hold beyond the seeds."""

from __future__ import annotations

from pipelines.config import PROJECT_ROOT
from pipelines.text.boilerplate import load_boilerplate_rules
from pipelines.text.normalize import normalize_paragraphs
from pipelines.text.paragraphs import split_paragraphs

RULES = load_boilerplate_rules(PROJECT_ROOT / "schemas" / "boilerplate.yaml")
LEAD = (
    "The city council approved the new budget on Tuesday after a long debate about school funding, "
    "road repairs and the cost of the new library."
)
SECOND = "Council members said the vote was the closest in a decade, with seven in favour and six against."


def normalize(text: str):
    return normalize_paragraphs(split_paragraphs(text), RULES)


def test_headline_becomes_title_and_lead_stays_in_body() -> None:
    result = normalize(f"City approves budget after heated debate\n\n{LEAD}\n\n{SECOND}")
    assert result.title == "City approves budget after heated debate"
    assert result.body_text == f"{LEAD}\n\n{SECOND}"


def test_original_language_headline_becomes_alternate_title() -> None:
    result = normalize(
        f"Minister visits Berlin for trade talks\n\nМинистр посетит Берлин для торговых переговоров\n\n{LEAD}"
    )
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
