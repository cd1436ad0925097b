"""Polling state over the `Store`: feeds' state, robots.txt records, and the items a feed (or any) brought before."""

from __future__ import annotations

from pipelines.http.robots import RobotsRecord
from pipelines.records import FeedState
from pipelines.storage.store import Store


def feed_states(store: Store) -> list[FeedState]:
    return [FeedState(**row) for row in store.dicts("SELECT * FROM feed_state ORDER BY name")]


def robots_records(store: Store) -> list[RobotsRecord]:
    """Every site's last robots.txt fetch: a fetcher starts from these instead of fetching each again."""
    return [RobotsRecord(**row) for row in store.dicts("SELECT * FROM robots_cache ORDER BY origin")]


def seen_items(store: Store, source_id: str, keys: list[str], urls: list[str]) -> set[str]:
    """Item keys of this feed, and canonical URLs from any feed or article, that were seen before."""
    found = store.con.execute(
        "SELECT item_key FROM feed_items WHERE source_id = ? AND item_key IN (SELECT unnest(?::VARCHAR[]))"
        " UNION SELECT url FROM feed_items WHERE url IN (SELECT unnest(?::VARCHAR[]))"
        " UNION SELECT url FROM articles WHERE url IN (SELECT unnest(?::VARCHAR[]))",
        [source_id, list(keys), list(urls), list(urls)],
    ).fetchall()
    return {value for (value,) in found}
