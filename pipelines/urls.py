"""Canonical URLs: one spelling per article, so the same page reached through a feed, a share link
or a newsletter (tracking parameters, fragments, default ports, host case) maps to one article id.

courlan does the heavy lifting (host case, punycode, default ports, path dot-segments, sorted query,
its list of tracker parameters); we add the trackers it misses, drop fragments and session path
parameters, and keep every other query parameter because many news sites put the article id there.
Scheme and a leading "www." are kept: they are not guaranteed to name the same page, and copies that
differ only there are still caught by the body-text deduplication.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import normalize_url

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Trackers courlan's list does not cover (MSN, NYT, HubSpot, Marketo, Webtrends, comScore, Adobe).
EXTRA_TRACKING_PARAMS = frozenset(
    {"ocid", "cmp", "cmpid", "icid", "smid", "smtyp", "emc", "partner", "_hsenc", "_hsmi", "mkt_tok", "mbid", "s_cid"}
)
_EXTRA_TRACKING_PREFIX = re.compile(r"^(?:ns_|wt\.|at_|_ga$|_gl$)", re.IGNORECASE)
# ";jsessionid=..." and friends: per-visitor state carried in the path.
_SESSION_PATH_PARAM = re.compile(r";(?:jsessionid|phpsessid|sid|sessionid)=[^/?#]*", re.IGNORECASE)


class InvalidUrlError(ValueError):
    """The text is not an absolute http(s) URL, so it cannot identify an article."""


def _is_tracking_param(name: str) -> bool:
    """Parameters that only say how a reader arrived, never which page they see."""
    return name.lower() in EXTRA_TRACKING_PARAMS or bool(_EXTRA_TRACKING_PREFIX.match(name))


def _resolve_dot_segments(path: str) -> str:
    """'/a/../b/./c/' and '/b/c' are one page (RFC 3986 5.2.4, trailing slash dropped); '' is the root."""
    return posixpath.normpath(path) if path else "/"


def canonical_url(url: str) -> str:
    """The one spelling of `url` used as article identity; raises InvalidUrlError for non-web URLs."""
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError as exc:  # e.g. an unbalanced IPv6 bracket
        raise InvalidUrlError(f"unparsable URL {url!r}: {exc}") from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not hostname:
        raise InvalidUrlError(f"not an absolute http(s) URL: {url!r}")
    query = urlencode(
        [
            (name, value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if not _is_tracking_param(name)
        ]
    )
    path = _resolve_dot_segments(_SESSION_PATH_PARAM.sub("", parts.path))
    without_fragment = urlunsplit((parts.scheme, parts.netloc, path, query, ""))
    return normalize_url(without_fragment, strict=False, trailing_slash=False)


def canonical_url_or_none(url: str | None) -> str | None:
    """The canonical URL when `url` is an absolute http(s) URL; None lets identity fall back to an item key."""
    if not url:
        return None
    try:
        return canonical_url(url)
    except InvalidUrlError:
        return None


def host_of(url: str) -> str:
    """The host a URL names, lower-cased ('' when none): what per-host manners are kept for."""
    return (urlsplit(url).hostname or "").lower()
