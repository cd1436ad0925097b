"""The format readers on bytes alone (no folder, no ingest): each format, and every reason a reader refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsfake import BILLION_LAUGHS
from sample_inputs import ARTICLE, EMPTY_FEED, FEED, PAGE

from pipelines.records import RawDocument, Status
from pipelines.sources.formats import (
    MEDIA_TYPES,
    InputError,
    check_content,
    read_drafts,
)

READ_AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RAW = RawDocument("raw-1", "folder-1", "inbox/item", READ_AT, "0" * 64, 100, None, Status.READ)


def test_text_is_one_draft_keyed_by_its_path() -> None:
    (draft,), rejections = read_drafts(b"Port strike ends.\n\nDock workers returned.", RAW, ".txt")
    assert rejections == []
    assert (draft.raw_id, draft.source_id, draft.item_key, draft.uri, draft.fetched_at) == (
        "raw-1",
        "folder-1",
        "inbox/item",
        "inbox/item",
        READ_AT,
    )
    assert draft.text == "Port strike ends.\n\nDock workers returned." and draft.html is None


def test_utf8_bom_and_utf16_text_are_decoded() -> None:
    text = "Café owners in Zürich said prices rose."
    for data in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        (draft,), _ = read_drafts(data, RAW, ".txt")
        assert draft.text == text


def test_html_is_one_draft_with_the_page_for_extraction() -> None:
    (draft,), rejections = read_drafts(PAGE.encode(), RAW, ".html")
    assert rejections == [] and draft.text is None
    assert draft.html is not None and "reading by local schoolchildren" in draft.html


def test_json_object_keeps_its_metadata() -> None:
    (draft,), rejections = read_drafts(json.dumps(ARTICLE).encode(), RAW, ".json")
    assert rejections == []
    assert draft.item_key == draft.url == ARTICLE["url"]
    assert draft.title == "Bridge reopens" and draft.text == ARTICLE["body"] and draft.html is None
    assert draft.published_at == datetime(2022, 2, 2, 8, 30, tzinfo=UTC)
    assert (draft.authors, draft.language, draft.outlet) == (("A. Writer",), "en", None)


def test_json_list_and_jsonl_give_one_draft_per_item() -> None:
    second = {"title": "No link", "html": "<p>Text</p>", "authors": "B. Writer", "source": "Wire"}
    drafts, _ = read_drafts(json.dumps([ARTICLE, second]).encode(), RAW, ".json")
    assert [draft.item_key for draft in drafts] == [ARTICLE["url"], "inbox/item#2"]
    assert (drafts[1].html, drafts[1].authors, drafts[1].outlet, drafts[1].url) == (
        "<p>Text</p>",
        ("B. Writer",),
        "Wire",
        None,
    )
    lines = "\n".join(json.dumps(item) for item in (ARTICLE, second)) + "\n\n"
    drafts, rejections = read_drafts(lines.encode(), RAW, ".jsonl")
    assert len(drafts) == 2 and rejections == []


def test_jsonl_refuses_bad_lines_one_by_one() -> None:
    data = (json.dumps(ARTICLE) + "\n{not json}\n" + json.dumps({"title": "no body"}) + "\n[1]\n").encode()
    drafts, rejections = read_drafts(data, RAW, ".jsonl")
    assert [draft.title for draft in drafts] == ["Bridge reopens"]
    assert [(r.raw_id, r.stage, r.detail, r.reason) for r in rejections] == [
        (
            "raw-1",
            "parse",
            "item 2",
            "invalid JSON on line 2, column 2: Expecting property name enclosed in double quotes",
        ),
        ("raw-1", "parse", "item 3", "article has neither a non-empty 'body' nor 'html'"),
        ("raw-1", "parse", "item 4", "expected an article object, got list"),
    ]


def test_a_jsonl_line_nested_too_deeply_is_refused_alone() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    drafts, rejections = read_drafts(f"{deep}\n{json.dumps(ARTICLE)}\n".encode(), RAW, ".jsonl")
    assert [draft.title for draft in drafts] == ["Bridge reopens"]
    assert [(r.detail, r.reason) for r in rejections] == [("item 1", "JSON nested too deeply to read on line 1")]


def test_json_with_a_bad_date_is_refused_naming_the_field() -> None:
    drafts, (rejection,) = read_drafts(json.dumps({**ARTICLE, "published_at": "yesterday"}).encode(), RAW, ".json")
    assert drafts == [] and rejection.reason == "published_at is not ISO 8601: 'yesterday'"


def test_saved_feed_gives_a_draft_per_item_with_content() -> None:
    (draft,), (rejection,) = read_drafts(FEED.encode(), RAW, ".rss")
    # feedparser resolves a GUID against the file's path, as it would against a fetched feed's URL
    assert draft.item_key == "inbox/wire-1" and draft.url == "https://news.example.com/a/1?utm_source=rss#top"
    assert draft.title == "Port strike ends after two weeks" and draft.outlet == "Example Wire"
    assert draft.published_at == datetime(2020, 3, 3, 10, 0, tzinfo=UTC) and draft.language == "en-us"
    assert draft.html is not None and "Dock workers returned" in draft.html
    assert (rejection.detail, rejection.reason) == ("inbox/wire-2", "feed item has no content or summary")


def test_every_supported_suffix_has_a_reader() -> None:
    for suffix in MEDIA_TYPES:
        data = FEED.encode() if suffix in (".xml", ".rss", ".atom") else json.dumps(ARTICLE).encode()
        drafts, _ = read_drafts(data, RAW, suffix)
        assert drafts, suffix


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty file"), (b"  \n\n ", "file contains only whitespace")],
    ids=["empty", "whitespace"],
)
def test_blank_input_is_refused_before_any_reader(data: bytes, reason: str) -> None:
    with pytest.raises(InputError, match=f"^{reason}$"):
        check_content(data)


def test_content_passes_the_blank_check() -> None:
    check_content(b" x ")


@pytest.mark.parametrize(
    ("data", "suffix", "reason"),
    [
        (bytes(range(256)) * 8, ".txt", "binary content, not text"),
        (b"<html>\x00\x01\x02</html>" * 50, ".html", "binary content, not HTML"),
        ("Москва — столица России.".encode("cp1251"), ".txt", "not UTF-8 text: byte 0xcc at offset 0"),
        ("Café owners in Zürich.".encode("latin-1"), ".json", "not UTF-8 text: byte 0xe9 at offset 3"),
        (b'{"title": "x", "body": ', ".json", "invalid JSON at line 1, column 24"),
        (EMPTY_FEED.encode(), ".xml", "feed has no items (no_items: rss20 feed without items"),
        (BILLION_LAUGHS, ".rss", "feed has no items (hostile_xml: DOCTYPE declares entities"),
        (b"<html><body><p>Not a feed</p></body></html>", ".atom", "feed has no items (not_a_feed: HTML page"),
    ],
    ids=[
        "binary-text",
        "binary-html",
        "cp1251",
        "latin1",
        "invalid-json",
        "feed-without-items",
        "hostile-xml",
        "html-as-feed",
    ],
)
def test_each_refusal_of_a_whole_input_names_its_reason(data: bytes, suffix: str, reason: str) -> None:
    with pytest.raises(InputError) as refused:
        read_drafts(data, RAW, suffix)
    assert str(refused.value).startswith(reason), str(refused.value)


def test_a_json_object_that_is_neither_an_article_nor_a_json_feed_says_so() -> None:
    drafts, (rejection,) = read_drafts(json.dumps({"title": "no body", "body": "  "}).encode(), RAW, ".json")
    assert drafts == [] and rejection.detail == "item 1"
    assert rejection.reason.startswith("neither an article") and "nor a JSON Feed" in rejection.reason


@pytest.fixture(scope="module")
def json_feeds(shared_dir: Path) -> Path:
    return shared_dir / "corpora/feeds-real/rsparser/Tests/RSParserTests/Resources"


def test_a_saved_json_feed_gives_a_draft_per_item(json_feeds: Path) -> None:
    """A real JSON Feed 1.1 (a German blog): ids, links, dates, authors, language and content as drafts."""
    drafts, rejections = read_drafts((json_feeds / "3960.json").read_bytes(), RAW, ".json")
    assert len(drafts) == 20 and rejections == []
    first = drafts[0]
    assert first.item_key == "user/posts/2020-02-21-lecker-lecker/index.md"  # the item's id, as a feed item's GUID
    assert (first.url, first.title) == ("https://journal.3960.org/posts/2020-02-21-lecker-lecker/", "Lecker, lecker")
    assert first.published_at == datetime(2020, 2, 21, 17, 8, 6, tzinfo=UTC)
    assert (first.authors, first.language, first.outlet) == (("Frank Boës",), "de-DE", "fboës - Der Blog | Startseite")
    assert first.html and "<p>" in first.html


def test_json_feed_1_0_authors_text_content_and_broken_json(json_feeds: Path) -> None:
    """1.1 `authors` beat the 1.0 `author`, an item without any has the feed's; content_text is escaped into
    paragraphs; a truncated JSON Feed is refused as invalid JSON."""
    document = json.loads((json_feeds / "authors.json").read_bytes())
    for item in document["items"]:
        item["content_text"] = "Prices <rose> 5%.\n\nTraders & brokers agreed."
        del item["content_html"]
    drafts, rejections = read_drafts(json.dumps(document).encode(), RAW, ".json")
    assert rejections == [] and [draft.authors for draft in drafts] == [
        ("Root Author 1", "Root Author 2"),
        ("Legacy Item Author",),
        ("Item Author 1", "Item Author 2"),
        ("Item Author 1", "Item Author 2"),
    ]
    assert drafts[0].html == "<p>Prices &lt;rose&gt; 5%.</p><p>Traders &amp; brokers agreed.</p>"
    with pytest.raises(InputError, match=r"^invalid JSON at line 1, column 12171"):
        read_drafts((json_feeds / "allthis-partial.json").read_bytes(), RAW, ".json")


def test_json_that_is_another_feed_syntax_is_neither(json_feeds: Path) -> None:
    """RSS written as JSON (Scripting News' rss-in-json) is not a JSON Feed and not an article."""
    drafts, (rejection,) = read_drafts((json_feeds / "ScriptingNews.json").read_bytes(), RAW, ".json")
    assert drafts == [] and rejection.reason.startswith("neither an article")


def test_a_json_feed_without_items_is_refused_whole() -> None:
    with pytest.raises(InputError, match=r"^feed has no items \(no_items: jsonfeed1.1 feed without items\)"):
        read_drafts(b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": []}', RAW, ".json")
