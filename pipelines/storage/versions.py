"""Article versioning: is an incoming article new, a new version of a stored one, or the same content again.

A pure function of the incoming rows and what `article_versions` holds for their articles, so the
load's one decision about versions can be read and tested without a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """The latest stored version of one article, and when its first version was loaded."""

    version: int
    content_hash: str | None
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class VersionPlan:
    """Counts, the `article_versions` rows to append, the incoming rows that made them (oldest first: each is
    a dedup entry), and the latest changed row of each article (its `articles` row)."""

    new: int
    updated: int
    same: int
    versions: list[Row]
    changed: list[Row]
    latest: dict[str, Row]


def plan_versions(rows: Sequence[Row], stored: Mapping[str, StoredVersion], run_id: str, now: datetime) -> VersionPlan:
    """Number every changed body version, oldest fetch first; a body equal to the latest version is 'same'.

    Rows of one article in one batch are versions of each other, so each is compared with the one
    before it, not only with what was stored.
    """
    current = dict(stored)
    latest: dict[str, Row] = {}
    versions: list[Row] = []
    changed: list[Row] = []
    new = updated = same = 0
    for row in sorted(rows, key=lambda r: (r["fetched_at"], r["uri"], r["raw_id"])):
        article_id = row["article_id"]
        previous = current.get(article_id, StoredVersion(0, None, now))
        if previous.content_hash == row["content_hash"]:
            same += 1
            continue
        if previous.version == 0:
            new += 1
        else:
            updated += 1
        version = previous.version + 1
        current[article_id] = StoredVersion(version, row["content_hash"], previous.first_seen)
        changed.append(row)
        latest[article_id] = {
            **row,
            "version": version,
            "first_seen_at": previous.first_seen,
            "updated_at": now,
            "run_id": run_id,
        }
        versions.append(
            {
                "article_id": article_id,
                "version": version,
                "raw_id": row["raw_id"],
                "content_hash": row["content_hash"],
                "title": row["title"],
                "body_text": row["body_text"],
                "loaded_at": now,
                "run_id": run_id,
            }
        )
    return VersionPlan(new, updated, same, versions, changed, latest)
