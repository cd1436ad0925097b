"""Stable identifiers derived from content, never from insertion order, so re-runs and other machines agree."""

from __future__ import annotations

import hashlib

ID_HEX_CHARS = 16


def sha256_hex(data: bytes | str) -> str:
    """Full SHA-256 of bytes or UTF-8 text."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def stable_id(*parts: object) -> str:
    """A short id from the parts' text; the unit separator keeps ("ab", "c") apart from ("a", "bc")."""
    joined = "\x1f".join("" if part is None else str(part) for part in parts)
    return sha256_hex(joined)[:ID_HEX_CHARS]
