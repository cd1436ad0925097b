"""Boilerplate rules from the reviewed pattern file, and lines a source repeats across its documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import PROJECT_ROOT
from pipelines.text.boilerplate import (
    EdgeCounts,
    load_boilerplate_rules,
    repeated_lines,
    source_document,
    strip_boilerplate,
)

RULES = load_boilerplate_rules(PROJECT_ROOT / "schemas" / "boilerplate.yaml")
LEAD = (
    "The city council approved the new budget on Tuesday after a long debate about school funding, "
    "road repairs and the cost of the new library."
)
SECOND = "Council members said the vote was the closest in a decade, with seven in favour and six against."


def test_bulleted_lists_inside_the_body_are_kept() -> None:
    paragraphs = [LEAD, SECOND, LEAD.upper().lower(), SECOND, "• road repairs", "• school funding"]
    assert strip_boilerplate(paragraphs, RULES).kept == paragraphs


def test_repeated_edge_lines_need_many_different_documents() -> None:
    footer = "Sign in to read the rest"
    docs = [
        source_document("s", [f"Story {i} lead paragraph with its own words number {i}.", f"Body {i}.", footer])
        for i in range(6)
    ]
    assert repeated_lines(EdgeCounts(), docs) == {footer.casefold()}
    copies = [source_document("s", ["Same story lead.", "Same body.", "Same closing line."])] * 10
    assert repeated_lines(EdgeCounts(), copies) == set()


def test_the_history_of_a_source_counts_with_its_batch() -> None:
    footer = "Sign in to read the rest"
    one = [source_document("s", [f"Story {i} lead paragraph with its own words number {i}.", footer]) for i in range(2)]
    assert repeated_lines(EdgeCounts(), one) == set()
    assert repeated_lines(EdgeCounts(documents=2, lines={footer.casefold(): 2}), one) == {footer.casefold()}
    # a share of the source's documents is needed, not only three of them
    assert repeated_lines(EdgeCounts(documents=40, lines={footer.casefold(): 2}), one) == set()


@pytest.mark.parametrize(
    ("line", "credit"),
    [
        ("• Reuters", "Reuters"),
        ("| Kyodo News", "Kyodo News"),
        ("By Jane Doe and John Roe", "Jane Doe and John Roe"),
        ("by Jane Doe", "Jane Doe"),
        ("BY JANE DOE, AP", "JANE DOE, AP"),
    ],
)
def test_a_byline_among_the_opening_paragraphs_is_kept_apart_without_its_opener(line: str, credit: str) -> None:
    stripped = strip_boilerplate([line, LEAD, SECOND], RULES)
    assert stripped.byline == credit
    assert stripped.kept == [LEAD, SECOND]


def test_head_rules_stop_once_article_text_has_started() -> None:
    stamp = "Updated: 10:42 a.m., Tuesday"
    assert strip_boilerplate([stamp, LEAD, SECOND], RULES).kept == [LEAD, SECOND]
    article_text = f"{LEAD} It passed late at night."  # long enough (26+ words) to be article text
    assert strip_boilerplate([article_text, stamp, SECOND], RULES).kept == [article_text, stamp, SECOND]


def test_tail_rules_remove_trailing_appeals_only_from_the_end() -> None:
    appeal = "Support independent journalism today."
    assert strip_boilerplate([LEAD, appeal, SECOND, appeal, "© 2024 The Herald"], RULES).kept == [LEAD, appeal, SECOND]


def test_a_bad_pattern_fails_when_the_file_is_read_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "boilerplate.yaml"
    path.write_text("anywhere:\n  - 'unclosed (group'\n", encoding="utf-8")
    with pytest.raises(ValueError, match=str(path)):
        load_boilerplate_rules(path)
