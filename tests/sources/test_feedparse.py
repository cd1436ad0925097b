"""pipelines.sources.feedparse on bytes alone.

Hostile XML is refused before the parser, odd bodies are named, prologs are kept linear.
The same parser serves fetched feeds (tests/http) and saved feed files (tests/sources/test_formats.py).
"""

from __future__ import annotations

import resource

import pytest
from newsfake import BILLION_LAUGHS

from pipelines.sources.feedparse import (
    compact_prolog,
    entry_key,
    parse_feed_bytes,
    xml_hazard,
)

QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + b"a" * 100_000 + b'">\n]>\n'
    b'<rss version="2.0"><channel><title>x</title><item><title>' + b"&a;" * 20_000 + b"</title></item></channel></rss>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>\n'
    b'<rss version="2.0"><channel><title>x</title><item><title>&xxe;</title></item></channel></rss>'
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>\n'
    b'<rss version="2.0"><channel><title>x</title><item><title>t</title></item></channel></rss>'
)
BLANK_PROLOG = (
    b'<?xml version="1.0"?>'
    + b"\n" * 200_000
    + b'<rss version="2.0"><channel><item><title>a</title></item></channel></rss>'
)


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, QUADRATIC_BLOWUP, EXTERNAL_ENTITY, PARAMETER_ENTITY],
    ids=["billion", "quadratic", "xxe", "param"],
)
def test_entity_declarations_never_reach_the_parser(body: bytes) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    feed = parse_feed_bytes(body, {"content-type": "application/rss+xml"}, "http://127.0.0.1/feed")
    assert feed.problem == "hostile_xml" and "entities" in feed.note and not feed.entries
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


def test_blank_lines_before_the_root_stay_linear() -> None:
    """feedparser's DOCTYPE regexes are quadratic here (40,000 lines: 40 s); 200,000 lines must parse."""
    assert len(compact_prolog(BLANK_PROLOG)) < 100
    feed = parse_feed_bytes(BLANK_PROLOG, {"content-type": "application/xml"}, "http://127.0.0.1/feed")
    assert feed.problem is None and [e.title for e in feed.entries] == ["a"]


def test_wide_prolog_is_capped() -> None:
    wide = ('<?xml version="1.0" encoding="utf-16"?>' + "\n" * 10_000 + '<rss version="2.0"/>').encode("utf-16")
    assert xml_hazard(wide) is not None and "UTF-16/32 prolog" in (xml_hazard(wide) or "")


def test_plain_doctype_without_entities_is_fine() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
        b'<rss version="0.91"><channel><title>t</title><item><title>a</title><link>http://a.example/1</link></item></channel></rss>'
    )
    feed = parse_feed_bytes(body, {"content-type": "application/xml"}, "http://127.0.0.1/feed")
    assert feed.problem is None and len(feed.entries) == 1


def test_empty_body_is_a_problem() -> None:
    assert parse_feed_bytes(b"  \n", {}, "http://127.0.0.1/feed").problem == "empty_body"


def test_json_is_named_not_parsed() -> None:
    feed = parse_feed_bytes(
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', {}, "http://127.0.0.1/feed"
    )
    assert feed.problem == "not_a_feed" and "JSON" in feed.note


def test_entry_key_prefers_the_guid_then_the_canonical_link() -> None:
    assert entry_key("guid-1", "https://a.example/x?utm_source=rss") == "guid-1"
    assert entry_key(None, "https://a.example/x?utm_source=rss#top") == "https://a.example/x"
    assert entry_key(None, None) is None
