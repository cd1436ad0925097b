"""feeds.yaml: the list of feeds to poll, validated on load with errors that name the line and field.

    feeds:
      - url: https://example.com/rss.xml     # required, http or https
        name: Example News                   # required, unique
        poll_minutes: 15                     # optional, default 5 (NEWSFLOW_POLL_MINUTES)
        language: en                         # optional ISO 639-1 hint
        enabled: true                        # optional, default true
        max_items: 100                       # optional, default 200: newest items taken per poll
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipelines.ids import stable_id

DEFAULT_MAX_ITEMS = 200
FIELDS = {"url", "name", "poll_minutes", "language", "enabled", "max_items"}
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

    @property
    def source_id(self) -> str:
        """A feed is identified by its URL: renaming it in feeds.yaml keeps its history."""
        return stable_id("feed", self.url)


def load_feeds(path: Path, default_poll_minutes: int) -> list[FeedConfig]:
    """Parse and validate; an empty list (or `feeds: []`) is valid and means nothing to poll."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FeedConfigError(f"{path}: cannot read feeds file: {exc.strerror or exc}") from exc
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise FeedConfigError(f"{path}: not valid YAML: {exc}") from exc
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
    if not isinstance(poll_minutes, int) or isinstance(poll_minutes, bool) or poll_minutes < 1:
        raise fail("poll_minutes", "must be a whole number of minutes, at least 1")
    language = values.get("language")
    if language is not None and (not isinstance(language, str) or not _LANGUAGE.match(language)):
        raise fail("language", "must be a two-letter ISO 639-1 code such as 'en'")
    enabled = values.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("enabled", "must be true or false")
    max_items = values.get("max_items", DEFAULT_MAX_ITEMS)
    if not isinstance(max_items, int) or isinstance(max_items, bool) or max_items < 1:
        raise fail("max_items", "must be a whole number, at least 1")
    return FeedConfig(url.strip(), name.strip(), poll_minutes, language, enabled, max_items)


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
