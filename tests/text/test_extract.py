"""Extraction with the real trafilatura: a whole news page written for the test, feed fragments, plain text."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from conftest import PROJECT_ROOT

from pipelines.text.extract import (
    EXTRACTOR_FRAGMENT,
    EXTRACTOR_MARKUP_TEXT,
    EXTRACTOR_PAGE,
    EXTRACTOR_PLAIN,
    extract_fragment,
    extract_html,
    flatten_wrapper_runs,
    plain_text,
)

PAGE = (Path(__file__).parent / "news_page.html").read_text(encoding="utf-8")
PAGE_URL = "https://coastalherald.example/news/2024/03/harbour-bridge-reopens"
FEED_CONTENT = (
    "<p>The council met on Monday to discuss the harbour bridge, which has been closed for two years "
    "after inspectors found corrosion in its cables.</p><p>A vote is expected next week.</p>"
)


def test_a_whole_page_gives_main_text_and_metadata() -> None:
    found = extract_html(PAGE, f"{PAGE_URL}?utm_source=newsletter")
    assert found is not None and found.extractor == EXTRACTOR_PAGE
    assert found.title == "Harbour bridge reopens after two-year repair"
    assert found.authors == ("Maria Lopez", "Tom Becker", "Sandra Andersen")
    assert found.published_at == datetime(2024, 3, 14, tzinfo=UTC)
    assert found.sitename == "The Coastal Herald"
    assert found.url == PAGE_URL  # the page's canonical link, not the tracked address it was fetched from
    assert "Mayor Elena Ruiz said the work had finished" in found.text
    assert "widened to three metres." in found.text
    # site chrome stays out: navigation, the most-read box and the copyright footer
    for chrome in ("Sport", "Most read", "Storm warning", "All rights reserved"):
        assert chrome not in found.text


def test_a_feed_fragment_keeps_its_paragraphs_and_has_no_metadata() -> None:
    found = extract_html(FEED_CONTENT)
    assert found is not None and found.extractor == EXTRACTOR_FRAGMENT
    assert found.text.splitlines() == [
        "The council met on Monday to discuss the harbour bridge, which has been closed for two years "
        "after inspectors found corrosion in its cables.",
        "A vote is expected next week.",
    ]
    assert (found.title, found.authors, found.published_at, found.sitename, found.url) == (None, (), None, None, None)


def test_plain_text_keeps_tags_as_characters() -> None:
    found = plain_text("  Use <b>bold</b> for emphasis &amp; nothing else.\n")
    assert found is not None and found.extractor == EXTRACTOR_PLAIN
    assert found.text == "Use <b>bold</b> for emphasis &amp; nothing else."
    assert plain_text(" \n\t") is None


def test_a_fragment_without_tags_is_plain_text() -> None:
    found = extract_fragment("Bridge reopens on Thursday.")
    assert found is not None and found.extractor == EXTRACTOR_PLAIN
    assert found.text == "Bridge reopens on Thursday."


def test_a_fragment_trafilatura_rejects_falls_back_to_its_markup_text() -> None:
    found = extract_fragment("<aside>Bridge reopens<br>on Thursday &amp; Friday</aside>")
    assert found is not None and found.extractor == EXTRACTOR_MARKUP_TEXT
    assert found.text == "Bridge reopens\non Thursday & Friday"


def test_a_fragment_with_no_text_at_all_is_nothing() -> None:
    assert extract_fragment('<img src="bridge.jpg" alt="">') is None


# A page whose only date-like text no markup rule reads ("Jun 13, 4:03" is a day and a time, no year).
UNDATED_PAGE = (
    "<html><head><title>Council approves the harbour budget</title></head><body><article>"
    "<h1>Council approves the harbour budget</h1><p class='byline'>Updated Jun 13, 4:03</p>"
    + "".join(
        f"<p>Paragraph {n} of the report on the harbour budget, which the council approved after a long "
        "debate about the cost of repairs to the old bridge and the ferry terminal.</p>"
        for n in range(6)
    )
    + "</article></body></html>"
)
UNDATED_PROBE = f"""
import sys
from pipelines.text.extract import extract_page
found = extract_page({UNDATED_PAGE!r})
print(found.published_at, found.title, "dateparser" in sys.modules)
"""


def test_a_page_date_never_sends_free_text_to_dateparser() -> None:
    """htmldate's extensive search would hand the string to dateparser, which tries every locale it has (seconds)."""
    done = subprocess.run(
        [sys.executable, "-c", UNDATED_PROBE], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    assert done.stdout.split() == ["None", "Council", "approves", "the", "harbour", "budget", "False"], done.stderr


def test_text_under_thousands_of_wrapper_tags_is_read() -> None:
    """libxml2 drops everything below 256 levels; runs of one tag with nothing between are read as one tag."""
    body = FEED_CONTENT * 3
    for depth in (300, 20_000):
        for opening, closing in (("<div>", "</div>"), ('<div class="w">\n', "</div>\n"), ("<span>", "</span>")):
            page = (
                f"<html><head><title>Nested</title></head><body>{opening * depth}{body}{closing * depth}</body></html>"
            )
            found = extract_html(page)
            assert found is not None and "harbour bridge" in found.text, (depth, opening)
            assert extract_fragment(f"{opening * depth}{body}{closing * depth}") is not None
    assert flatten_wrapper_runs("<div>" * 40 + "x" + "</div>" * 40) == "<div>x</div>"
    short = "<div>" * 32 + "x <b>y</b>" + "</div>" * 32  # nesting a real page has: unchanged
    assert flatten_wrapper_runs(short) == short
    assert flatten_wrapper_runs(PAGE) == PAGE
    between = "<div>a" * 100 + "b</div>" * 100  # text between the tags: nothing is joined
    assert flatten_wrapper_runs(between) == between
