"""The feeds on the data-quality page: each feed's state, one word for its health, and its recent volume."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

FEED_WINDOW_DAYS = 7  # items per day and the share of 304s are over this window
FAILING_AFTER = 3  # consecutive failures after which a feed that worked before counts as failing, not backing off
NOT_MODIFIED_OUTCOMES = ("not_modified", "unchanged")


@dataclass(frozen=True, slots=True)
class FeedRow:
    source_id: str
    name: str
    url: str
    status: str
    last_outcome: str | None
    last_status: int | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    items_per_day: float
    polls: int
    not_modified_share: float | None


# Worst first: the order feeds are listed in.
FEED_STATUSES = ("failing", "backing off", "ok", "not modified", "disabled")

FEEDS_SQL = """
WITH items AS (SELECT source_id, count(*) AS items FROM feed_items WHERE first_seen_at >= ? GROUP BY source_id),
polls AS (
    SELECT source_id, count(*) AS polls, count(*) FILTER (WHERE http_status = 304) AS not_modified
    FROM fetch_events WHERE kind <> 'page' AND "at" >= ? GROUP BY source_id
)
SELECT f.source_id, f.name, f.url, f.last_outcome, f.last_status, f.last_polled_at, f.last_success_at, f.next_poll_at,
       f.consecutive_failures, f.last_error, coalesce(i.items, 0) / ? AS items_per_day, coalesce(p.polls, 0) AS polls,
       CASE WHEN p.polls > 0 THEN p.not_modified / p.polls END AS not_modified_share
FROM feed_state f LEFT JOIN items i USING (source_id) LEFT JOIN polls p USING (source_id)
"""


def feed_status(failures: int, last_outcome: str | None, last_success_at: datetime | None, disabled: bool) -> str:
    """One word for a feed: a failure after earlier successes is backing off until FAILING_AFTER in a row."""
    if disabled:
        return "disabled"
    if failures == 0:
        return "not modified" if last_outcome in NOT_MODIFIED_OUTCOMES else "ok"
    if last_success_at is not None and failures < FAILING_AFTER:
        return "backing off"
    return "failing"


def feeds(con: duckdb.DuckDBPyConnection, now: datetime, disabled: Iterable[str] = ()) -> list[FeedRow]:
    """Every polled feed, failing ones first, then by name; `disabled`: source ids feeds.yaml switched off."""
    off = set(disabled)
    since = now - timedelta(days=FEED_WINDOW_DAYS)
    cursor = con.execute(FEEDS_SQL, [since, since, FEED_WINDOW_DAYS])  # its columns are FeedRow's, but `status`
    columns = [column[0] for column in cursor.description or ()]
    rows = []
    for values in cursor.fetchall():
        row = dict(zip(columns, values, strict=True))
        disabled_here = row["source_id"] in off
        status = feed_status(row["consecutive_failures"], row["last_outcome"], row["last_success_at"], disabled_here)
        rows.append(FeedRow(status=status, **row))
    return sorted(rows, key=lambda row: (FEED_STATUSES.index(row.status), -row.consecutive_failures, row.name))
