"""extract_draft then finish_articles on drafts written for the test: ids, date flags, titles, fallbacks and rejections.

Real parts only: the reviewed boilerplate file, py3langid and trafilatura on a hand-written news page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.config import PROJECT_ROOT
from pipelines.ids import stable_id
from pipelines.records import ArticleDraft, ArticleRow, Rejection
from pipelines.text.articles import (
    DATELINE_YEAR_INFERRED,
    EXTRACTOR_FEED_CONTENT,
    PUBLISHED_FROM_DATELINE,
    extract_draft,
    finish_articles,
)
from pipelines.text.boilerplate import load_boilerplate_rules
from pipelines.text.extract import EXTRACTOR_FRAGMENT, EXTRACTOR_PAGE, EXTRACTOR_PLAIN

RULES = load_boilerplate_rules(PROJECT_ROOT / "schemas" / "boilerplate.yaml")
FETCHED = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
PAGE = (Path(__file__).parent / "news_page.html").read_text(encoding="utf-8")
PAGE_DATE = datetime(2024, 3, 14, tzinfo=UTC)  # the page's article:published_time, as a day
URL = "https://coastalherald.example/news/2024/03/harbour-bridge-reopens"
TEXT = (
    "Harbour bridge reopens after two-year repair\n\n"
    "The harbour bridge reopened to traffic on Thursday morning, two years after engineers closed it when "
    "inspectors found corrosion in three of its main cables.\n\n"
    "The city spent 48 million euros replacing the cables and resurfacing the deck, the mayor said."
)
FEED_CONTENT = (
    "<p>The council met on Monday to discuss the harbour bridge, which has been closed for two years "
    "after inspectors found corrosion in its cables.</p><p>A vote is expected next week.</p>"
)


def draft(item_key: str = "item-1", **fields: Any) -> ArticleDraft:
    base = ArticleDraft(
        raw_id=f"raw-{item_key}",
        source_id="herald",
        item_key=item_key,
        uri=f"file:///seeds/{item_key}.txt",
        fetched_at=FETCHED,
        text=TEXT,
    )
    return replace(base, **fields)


def build(*drafts: ArticleDraft) -> tuple[list[ArticleRow], list[Rejection]]:
    built = finish_articles([extract_draft(draft) for draft in drafts], RULES)
    return built.articles, built.rejections


def only_row(one: ArticleDraft) -> ArticleRow:
    rows, rejections = build(one)
    assert rejections == [] and len(rows) == 1
    return rows[0]


# --- ids -----------------------------------------------------------------------------------------------


def test_the_id_comes_from_the_canonical_url_and_ignores_tracking_parameters() -> None:
    plain = only_row(draft("a", url=URL))
    tracked = only_row(
        draft(
            "b",
            url="https://COASTALHERALD.example/news/2024/03/harbour-bridge-reopens/"
            "?utm_source=newsletter&utm_medium=email#comments",
        )
    )
    assert plain.url == tracked.url == URL
    assert plain.article_id == tracked.article_id == stable_id("url", URL)


def test_without_a_url_the_id_is_the_item_in_its_source() -> None:
    row = only_row(draft("item-7"))
    assert row.url is None
    assert row.article_id == stable_id("item", "herald", "item-7")
    assert row.article_id != only_row(replace(draft("item-7"), source_id="other")).article_id


def test_a_page_url_stands_in_when_the_draft_has_none() -> None:
    row = only_row(draft(text=None, html=PAGE))
    assert row.url == URL and row.article_id == stable_id("url", URL)


# --- dates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("published", "flag"),
    [
        (FETCHED + timedelta(days=3), "published_at_in_future"),
        (datetime(1989, 12, 31, tzinfo=UTC), "published_at_before_1990"),
    ],
)
def test_implausible_dates_are_flagged_and_kept_only_as_reported(published: datetime, flag: str) -> None:
    row = only_row(draft(published_at=published))
    assert flag in row.flags
    assert row.published_at is None and row.published_at_reported == published


def test_a_plausible_date_is_published_at() -> None:
    published = FETCHED - timedelta(hours=5)
    row = only_row(draft(published_at=published, flags=("from_feed",)))
    assert row.published_at == row.published_at_reported == published
    assert row.flags == ["from_feed"]


def test_feed_and_page_dates_that_disagree_are_flagged_the_feed_date_wins() -> None:
    feed_date = PAGE_DATE - timedelta(days=5)
    row = only_row(draft(text=None, html=PAGE, published_at=feed_date))
    assert "date_disagreement" in row.flags
    assert row.published_at == feed_date
    close = only_row(draft(text=None, html=PAGE, published_at=PAGE_DATE + timedelta(days=1)))
    assert "date_disagreement" not in close.flags


def test_a_dateline_date_stands_in_for_a_missing_date_its_year_inferred_and_flagged() -> None:
    lead = TEXT.split(chr(10))[2]
    wire = only_row(draft(text=f"Talks open in Moscow\n\nMOSCOW, Nov. 15 (Reuters) - {lead}"))
    assert wire.published_at == datetime(2023, 11, 15, tzinfo=UTC)  # the latest Nov. 15 not after the fetch
    assert DATELINE_YEAR_INFERRED in wire.flags and wire.dateline_year is None
    this_year = only_row(draft(text=f"Talks open in Moscow\n\nMOSCOW, March 15 (Reuters) - {lead}"))
    assert this_year.published_at == datetime(2024, 3, 15, tzinfo=UTC)  # the fetch's own day counts
    stated = only_row(draft(text=f"Talks open\n\nNEW YORK, Jan. 5, 2022 /PRNewswire/ -- {lead}"))
    assert stated.published_at == datetime(2022, 1, 5, tzinfo=UTC) and PUBLISHED_FROM_DATELINE in stated.flags
    other = only_row(draft(text=f"Talks open\n\nMOSCOW, Nov. 15 (Reuters) - {lead}", published_at=FETCHED))
    assert other.published_at == FETCHED and not {DATELINE_YEAR_INFERRED, PUBLISHED_FROM_DATELINE} & set(other.flags)
    undated = only_row(draft(text=f"Talks open\n\nMOSCOW (Reuters) - {lead}"))
    assert undated.published_at is None and not {DATELINE_YEAR_INFERRED, PUBLISHED_FROM_DATELINE} & set(undated.flags)


# --- titles, extractors, metadata --------------------------------------------------------------------


def test_a_headline_line_becomes_the_title() -> None:
    row = only_row(draft())
    assert (row.title, row.title_missing, row.extractor) == (
        "Harbour bridge reopens after two-year repair",
        False,
        EXTRACTOR_PLAIN,
    )
    assert row.body_text.startswith("The harbour bridge reopened")
    assert "title_missing" not in row.flags


def test_text_without_a_headline_is_flagged_title_missing() -> None:
    row = only_row(draft(text=TEXT.split("\n\n", 1)[1]))
    assert row.title is None and row.title_missing
    assert "title_missing" in row.flags
    assert row.body_text.startswith("The harbour bridge reopened")


def test_a_page_gives_title_authors_outlet_and_date() -> None:
    row = only_row(draft(text=None, html=PAGE, url=URL))
    assert row.extractor == EXTRACTOR_PAGE
    assert row.title == "Harbour bridge reopens after two-year repair"
    assert row.authors == ["Maria Lopez", "Tom Becker", "Sandra Andersen"]
    assert row.outlet == "The Coastal Herald"
    assert row.published_at == PAGE_DATE
    assert row.language == "en"
    assert "Harbour bridge reopens" not in row.body_text  # the title is not repeated in the body


def test_feed_content_stands_in_for_a_page_without_text_and_says_so() -> None:
    empty_page = "<html><head><title>Loading</title></head><body><div id='app'></div></body></html>"
    row = only_row(draft(text=None, html=empty_page, fallback_html=FEED_CONTENT, title="Council to vote on bridge"))
    assert row.extractor == f"{EXTRACTOR_FEED_CONTENT}:{EXTRACTOR_FRAGMENT}"
    assert row.title == "Council to vote on bridge"
    assert row.body_text.endswith("A vote is expected next week.")


def test_a_dateline_fills_the_outlet_when_nothing_else_names_it() -> None:
    row = only_row(draft(text=f"Talks open in Moscow\n\nMOSCOW, September 21. /TASS/. {TEXT.split(chr(10))[2]}"))
    assert (row.dateline_place, row.dateline_agency, row.dateline_month, row.dateline_day) == ("MOSCOW", "TASS", 9, 21)
    assert row.outlet == "TASS"
    assert row.body_text.startswith("The harbour bridge")


# --- rejections ----------------------------------------------------------------------------------------


def test_a_draft_with_no_text_becomes_a_rejection_not_an_article() -> None:
    rows, rejections = build(draft("blank", text="  \n\t "), draft("good"))
    assert [row.item_key for row in rows] == ["good"]
    assert rejections == [Rejection("raw-blank", "extract", "no article text could be extracted", "blank")]


def test_a_draft_that_is_only_boilerplate_becomes_a_rejection() -> None:
    rows, rejections = build(draft("chrome", text="Advertisement\n\nRead more\n\nShare this article"))
    assert rows == []
    assert [(r.raw_id, r.stage, r.detail) for r in rejections] == [("raw-chrome", "normalize", "chrome")]


def test_lines_repeated_across_a_sources_documents_are_removed_per_source() -> None:
    footer = "Listen to this story on the Herald app"
    stories = [
        draft(
            f"s{i}",
            text=f"Story number {i} about the harbour, with words of its own, {i} times over.\n\n"
            f"A second paragraph for story {i}.\n\n{footer}",
        )
        for i in range(4)
    ]
    other_source = replace(stories[0], source_id="other", item_key="o0", raw_id="raw-o0")
    rows, _ = build(*stories, other_source)
    by_key = {row.item_key: row for row in rows}
    assert all(footer not in by_key[f"s{i}"].body_text for i in range(4))
    assert footer in by_key["o0"].body_text
