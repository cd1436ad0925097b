"""canonical_url: spellings of one page collapse, different pages stay apart."""

from __future__ import annotations

import pytest

from pipelines.urls import InvalidUrlError, canonical_url, canonical_url_or_none

SAME_PAGE = [
    (
        "https://www.example.com/world/story-123.html",
        [
            "HTTPS://WWW.Example.COM:443/world/story-123.html",
            "https://www.example.com/world/story-123.html?utm_source=rss&utm_medium=feed&utm_campaign=x",
            "https://www.example.com/world/story-123.html#comments",
            "https://www.example.com/world/story-123.html?fbclid=IwAR0abc&gclid=xyz",
            "https://www.example.com/world/./story-123.html/",
            "https://www.example.com/news/../world/story-123.html",
            "  https://www.example.com/world/story-123.html;jsessionid=0A1B2C  ",
            "https://www.example.com/world/story-123.html?ocid=msn&smid=tw-share&WT.mc_id=1&ns_campaign=2",
        ],
    ),
    (
        "http://example.com/article?a=1&id=42",
        ["http://example.com:80/article?id=42&a=1", "http://EXAMPLE.com/article/?id=42&a=1&ref=homepage"],
    ),
    ("https://example.com/", ["https://example.com", "https://example.com/#top"]),
]


@pytest.mark.parametrize(("expected", "spellings"), SAME_PAGE)
def test_spellings_of_one_page_share_a_canonical_url(expected: str, spellings: list[str]) -> None:
    assert canonical_url(expected) == expected
    assert {canonical_url(url) for url in spellings} == {expected}


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("https://example.com/article?id=42", "https://example.com/article?id=43"),  # the id is the page
        ("https://example.com/a", "https://example.com/b"),
        ("https://example.com:8080/a", "https://example.com/a"),  # a non-default port is another server
        ("https://example.com/News/A", "https://example.com/news/a"),  # paths are case-sensitive
    ],
)
def test_different_pages_stay_apart(left: str, right: str) -> None:
    assert canonical_url(left) != canonical_url(right)


def test_canonical_url_is_idempotent() -> None:
    url = canonical_url("https://Example.com:443/x/../y/?utm_term=a&page=2#frag")
    assert canonical_url(url) == url == "https://example.com/y?page=2"


@pytest.mark.parametrize("bad", ["", "/relative/path", "ftp://example.com/file", "mailto:a@b.c", "http://[::1"])
def test_non_web_urls_raise_a_named_error(bad: str) -> None:
    with pytest.raises(InvalidUrlError):
        canonical_url(bad)


def test_canonical_url_or_none_lets_items_without_a_web_url_fall_back() -> None:
    assert canonical_url_or_none("https://Example.com/a?utm_source=x") == "https://example.com/a"
    assert [canonical_url_or_none(url) for url in (None, "", "mailto:desk@example.com", "/relative")] == [None] * 4
