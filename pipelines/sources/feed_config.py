"""feeds.yaml: the list of feeds to poll, validated on load with errors that name the line and field.

feeds:
  - url: https://example.com/rss.xml     # required, http or https
    name: Example News                   # required, unique
    poll_minutes: 15                     # optional, default 5 (NEWSFLOW_POLL_MINUTES)
    language: en                         # optional ISO 639-1 hint
    enabled: true                        # optional, default true
    max_items: 100                       # optional, default 200: newest items taken per poll
    min_minutes: 5                       # optional, default poll_minutes: the shortest interval learned
    max_minutes: 360                     # optional, default 360 (or poll_minutes if more): the longest one
    kind: feed                           # optional: feed (RSS, Atom, JSON Feed) or sitemap (a (news) sitemap or index)
    max_age_days: 2                      # kind sitemap only, default 2: URLs older than this are not taken
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipelines.ids import stable_id
from pipelines.sources.kinds import FEED, KINDS

DEFAULT_MAX_ITEMS = 200
# A feed's poll interval follows how often it publishes, up to this (a slow feed is still read four times a day).
DEFAULT_MAX_MINUTES = 360
# Keys every feed may have; a kind adds its own (`SourceKind.options`, pipelines.sources.kinds).
COMMON_FIELDS = {
    "url",
    "name",
    "poll_minutes",
    "language",
    "enabled",
    "max_items",
    "min_minutes",
    "max_minutes",
    "kind",
}
FIELDS = COMMON_FIELDS | {option for kind in KINDS.values() for option in kind.options}
# Google News sitemaps list the last two days; older URLs in a sitemap are archive, not news.
DEFAULT_MAX_AGE_DAYS = 2
_LANGUAGE = re.compile(r"^[a-z]{2}$")


class FeedConfigError(ValueError):
    """feeds.yaml is not valid; the message says where (file:line) and which field."""


@dataclass(frozen=True, slots=True)
class FeedConfig:
    url: str
    name: str
    poll_minutes: int
    language: str | None = None
    enabled: bool = True
    max_items: int = DEFAULT_MAX_ITEMS
    min_minutes: int | None = None
    max_minutes: int | None = None
    kind: str = FEED
    max_age_days: int = DEFAULT_MAX_AGE_DAYS

    @property
    def source_id(self) -> str:
        """A feed is identified by its URL: renaming it in feeds.yaml keeps its history."""
        return stable_id("feed", self.url)

    @property
    def interval_bounds(self) -> tuple[int, int]:
        """The least and most minutes between polls as publishing is learned: never more often than
        `poll_minutes` unless `min_minutes` says so, never less often than DEFAULT_MAX_MINUTES unless
        `max_minutes` does."""
        high = self.max_minutes or max(self.poll_minutes, self.min_minutes or 0, DEFAULT_MAX_MINUTES)
        return (self.min_minutes or min(self.poll_minutes, high)), high


def load_feeds(path: Path, default_poll_minutes: int) -> list[FeedConfig]:
    """Parse and validate; an empty list (or `feeds: []`) is valid and means nothing to poll."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FeedConfigError(f"{path}: cannot read feeds file: {exc.strerror or exc}") from exc
    return parse_feeds(text, path, default_poll_minutes)


def parse_feeds(text: str, path: Path, default_poll_minutes: int) -> list[FeedConfig]:
    """The feeds of feeds.yaml text, validated; errors name `path` and the line."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise FeedConfigError(_syntax_error(path, exc)) from exc
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise FeedConfigError(f"{path}:{_line(root)}: expected a mapping with a top-level 'feeds:' list")
    top = {key.value: value for key, value in root.value}
    if set(top) - {"feeds"}:
        raise FeedConfigError(f"{path}:{_line(root)}: unknown top-level keys {sorted(set(top) - {'feeds'})}")
    feeds_node = top.get("feeds")
    if feeds_node is None or (isinstance(feeds_node, yaml.ScalarNode) and feeds_node.value in ("", "null", "~")):
        return []
    if not isinstance(feeds_node, yaml.SequenceNode):
        raise FeedConfigError(f"{path}:{_line(feeds_node)}: 'feeds' must be a list")
    feeds = [_feed(path, index, node, default_poll_minutes) for index, node in enumerate(feeds_node.value)]
    _check_unique(path, feeds_node, feeds)
    return feeds


def _syntax_error(path: Path, exc: yaml.YAMLError) -> str:
    """One line, as a compiler says it: file:line:column, what is wrong, and what it was reading there."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context, started = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and started is not None and mark is not None and started.line != mark.line:
        context += f" that began at line {started.line + 1}, column {started.column + 1}"  # an unclosed quote
    return f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")


def _feed(path: Path, index: int, node: yaml.Node, default_poll_minutes: int) -> FeedConfig:
    where = f"{path}:{_line(node)}: feeds[{index}]"
    if not isinstance(node, yaml.MappingNode):
        raise FeedConfigError(f"{where}: expected a mapping with url and name")
    lines = {key.value: _line(value) for key, value in node.value}
    values: dict[str, Any] = yaml.safe_load(yaml.serialize(node))
    unknown = set(values) - FIELDS
    if unknown:
        raise FeedConfigError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(FIELDS)}")

    def fail(field: str, message: str) -> FeedConfigError:
        return FeedConfigError(f"{path}:{lines.get(field, _line(node))}: feeds[{index}].{field}: {message}")

    url = values.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        raise fail("url", "required, an absolute http:// or https:// URL")
    name = values.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("name", "required, a non-empty string")
    poll_minutes = values.get("poll_minutes", default_poll_minutes)
    if not _whole_at_least_one(poll_minutes):
        raise fail("poll_minutes", "must be a whole number of minutes, at least 1")
    language = values.get("language")
    if language is not None and (not isinstance(language, str) or not _LANGUAGE.match(language)):
        raise fail("language", "must be a two-letter ISO 639-1 code such as 'en'")
    enabled = values.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("enabled", "must be true or false")
    max_items = values.get("max_items", DEFAULT_MAX_ITEMS)
    if not _whole_at_least_one(max_items):
        raise fail("max_items", "must be a whole number, at least 1")
    bounds = {field: values.get(field) for field in ("min_minutes", "max_minutes")}
    for field, minutes in bounds.items():
        if minutes is not None and not _whole_at_least_one(minutes):
            raise fail(field, "must be a whole number of minutes, at least 1")
    low, high = bounds["min_minutes"], bounds["max_minutes"]
    if low is not None and high is not None and low > high:
        raise fail("max_minutes", f"must not be less than min_minutes ({low})")
    kind = values.get("kind", FEED)
    if not isinstance(kind, str) or kind not in KINDS:
        raise fail("kind", "must be " + " or ".join(repr(name) for name in KINDS))
    for option in sorted(set(values) - set(KINDS[kind].options) - COMMON_FIELDS):  # the first, whatever YAML's order
        takers = [name for name, other in KINDS.items() if option in other.options]
        raise fail(option, f"applies to kind: {' or '.join(takers)} only ({KINDS[kind].note})")
    max_age_days = values.get("max_age_days", DEFAULT_MAX_AGE_DAYS)
    if not _whole_at_least_one(max_age_days):
        raise fail("max_age_days", "must be a whole number of days, at least 1")
    return FeedConfig(
        url.strip(),
        name.strip(),
        poll_minutes,
        language,
        enabled,
        max_items,
        **bounds,
        kind=kind,
        max_age_days=max_age_days,
    )


def _whole_at_least_one(value: object) -> bool:
    """A count of minutes, items or days as YAML gives it: an integer (not true/false) of at least 1."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_unique(path: Path, node: yaml.SequenceNode, feeds: list[FeedConfig]) -> None:
    for field in ("url", "name"):
        seen: dict[str, int] = {}
        for index, feed in enumerate(feeds):
            value = getattr(feed, field)
            if value in seen:
                raise FeedConfigError(
                    f"{path}:{_line(node.value[index])}: feeds[{index}].{field}: duplicate of feeds[{seen[value]}]"
                )
            seen[value] = index


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def append_feed(path: Path, entry: Mapping[str, Any], default_poll_minutes: int) -> FeedConfig:
    """Append one entry to feeds.yaml (created if missing), keeping its comments; the whole new file is
    validated before it replaces the old one, so a bad entry never reaches the file."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    document_yaml = YAML()  # round-trip: comments, key order and quoting survive
    document_yaml.preserve_quotes = True
    document_yaml.indent(mapping=2, sequence=4, offset=2)
    document_yaml.width = 4096  # never fold a long URL
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    parse_feeds(text, path, default_poll_minutes)  # refuse to touch a file that is already broken
    document = document_yaml.load(text) or CommentedMap()
    if document.get("feeds") is None:
        document["feeds"] = CommentedSeq()
    document["feeds"].fa.set_block_style()  # `feeds: []` becomes a list with one entry per block
    document["feeds"].append(CommentedMap(entry))
    output = io.StringIO()
    document_yaml.dump(document, output)
    added = parse_feeds(output.getvalue(), path, default_poll_minutes)[-1]
    temporary = path.with_name(f".{path.name}.adding")
    temporary.write_text(output.getvalue(), encoding="utf-8")
    os.replace(temporary, path)
    return added
