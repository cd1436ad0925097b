"""Article versioning as a pure plan: new, a new version, or the same content again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.storage.versions import StoredVersion, plan_versions

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
FIRST_LOAD = NOW - timedelta(days=3)


def _row(article_id: str, content_hash: str, minutes: int, raw_id: str) -> dict[str, object]:
    return {
        "article_id": article_id,
        "content_hash": content_hash,
        "raw_id": raw_id,
        "uri": f"{raw_id}.txt",
        "fetched_at": NOW - timedelta(minutes=minutes),
        "title": None,
        "body_text": content_hash,
    }


def test_new_versions_and_same_content_are_told_apart_oldest_fetch_first() -> None:
    stored = {"known": StoredVersion(2, "k2", FIRST_LOAD)}
    rows = [
        _row("fresh", "f2", 10, "r3"),  # fetched after r1: version 2 of a new article
        _row("known", "k2", 30, "r4"),  # the stored latest body again
        _row("fresh", "f1", 20, "r1"),
        _row("known", "k3", 5, "r5"),
        _row("fresh", "f2", 1, "r6"),  # the same as the version just before it in this batch
    ]
    plan = plan_versions(rows, stored, "run1", NOW)
    assert (plan.new, plan.updated, plan.same) == (1, 2, 2)
    assert [(v["article_id"], v["version"], v["raw_id"]) for v in plan.versions] == [
        ("fresh", 1, "r1"),
        ("fresh", 2, "r3"),
        ("known", 3, "r5"),
    ]
    assert [row["raw_id"] for row in plan.changed] == ["r1", "r3", "r5"]
    assert {a: (row["version"], row["raw_id"], row["first_seen_at"]) for a, row in plan.latest.items()} == {
        "fresh": (2, "r3", NOW),
        "known": (3, "r5", FIRST_LOAD),
    }
    assert stored["known"].version == 2  # the stored state the caller passed is not touched
