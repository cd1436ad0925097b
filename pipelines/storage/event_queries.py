"""What the events step reads and rebuilds over the `Store`: candidates by one join on the index keys, the stored
events of articles, the spans of events, and the `events` rows of touched events from their members.

Terms are the widest rows history holds (sixty terms and weights an input). The reads of `article_terms` are
bounded by `seen_at` constants (a window's days, the span of the events touched): rows are written in about
the order they are seen, so DuckDB skips other days' row groups by their min/max and a read costs what the
window holds, not what history holds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa

from pipelines.dedup.signatures import as_utc
from pipelines.events.grouping import Candidate, EventEntry
from pipelines.storage.store import Store

# An event's label: its LABEL_TERMS heaviest terms, weights summed over the LABEL_SOURCE_TERMS heaviest terms of
# each of its inputs (an input's own heaviest say what it is about; its tail costs the rebuild six times as much).
LABEL_TERMS = 4
LABEL_SOURCE_TERMS = 10


def candidates(store: Store, probes: Sequence[tuple[int, int]]) -> list[Candidate]:
    """Stored entries indexed under one of the (term hash, day) probes, with their event: one join.

    The days of the probes bound both tables' scans as constants: keys and terms are written in about the
    order they are seen, so DuckDB skips the row groups of other days by their min/max, and a lookup
    reads the window's rows, not history's.
    """
    if not probes:
        return []
    # An Arrow uint64 column: Python ints above 2**63 would not bind exactly as a parameter.
    probe = pa.table(
        {
            "term_hash": pa.array([term for term, _ in probes], type=pa.uint64()),
            "day": pa.array([day for _, day in probes], type=pa.int32()),
        }
    )
    first, last = min(day for _, day in probes), max(day for _, day in probes)
    since = datetime.combine(date.fromordinal(first), time(), UTC)
    until = datetime.combine(date.fromordinal(last) + timedelta(days=1), time(), UTC)
    with store.arrow(probe) as wanted:
        found = store.con.execute(
            "SELECT t.article_id, t.seen_at, t.terms, t.weights, t.specifics, t.principal, t.people, e.event_id"
            " FROM article_terms t JOIN article_events e USING (article_id)"
            " WHERE t.seen_at >= ? AND t.seen_at < ? AND t.article_id IN ("
            f"  SELECT k.article_id FROM event_keys k JOIN {wanted} USING (term_hash, day)"
            "   WHERE k.day BETWEEN ? AND ?)"
            " ORDER BY t.article_id, t.raw_id",
            [since, until, first, last],
        ).fetchall()
    return [
        Candidate(
            EventEntry(a, as_utc(seen), tuple(terms), tuple(weights), frozenset(rare), principal, frozenset(people)),
            event,
        )
        for a, seen, terms, weights, rare, principal, people, event in found
    ]


def stored_events(store: Store, article_ids: Iterable[str]) -> dict[str, str]:
    """The event each of these articles is stored in, for those that are."""
    found = store.con.execute(
        "SELECT article_id, event_id FROM article_events WHERE article_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(set(article_ids))],
    ).fetchall()
    return dict(found)


def event_spans(store: Store, event_ids: Iterable[str]) -> dict[str, tuple[datetime, datetime]]:
    """(first seen, last seen) of each stored event: the earlier first seen names a merged event, and every
    member input of an event was seen within its span."""
    found = store.con.execute(
        "SELECT event_id, first_seen_at, last_seen_at FROM events WHERE event_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(set(event_ids))],
    ).fetchall()
    return {event_id: (as_utc(first), as_utc(last)) for event_id, first, last in found}


def members(store: Store, event_ids: Sequence[str]) -> list[str]:
    """Every article of these stored events."""
    found = store.con.execute(
        "SELECT article_id FROM article_events WHERE event_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY article_id",
        [list(event_ids)],
    ).fetchall()
    return [article_id for (article_id,) in found]


def rebuild_events(store: Store, event_ids: Sequence[str], seen_between: tuple[datetime, datetime]) -> None:
    """The `events` rows of these events, from their members as stored now (a function of the members alone).

    `seen_between`: a span holding every member input's `seen_at` (the spans of the events they were in
    before and the times of the batch's inputs): it bounds the reads of `article_terms`, and no member is
    outside it, so the rows are the same as unbounded ones.
    """
    rows = store.dicts(
        """
        WITH members AS (
            SELECT article_id, event_id FROM article_events WHERE event_id IN (SELECT unnest(?::VARCHAR[]))
        ),
        terms AS (
            SELECT article_id, raw_id, seen_at, terms, weights FROM article_terms
            WHERE seen_at BETWEEN ? AND ? AND article_id IN (SELECT article_id FROM members)
        ),
        seen AS (
            SELECT m.event_id, t.article_id, t.seen_at, src.name AS outlet
            FROM members m
            JOIN terms t USING (article_id)
            JOIN raw_documents r ON r.raw_id = t.raw_id
            JOIN sources src ON src.source_id = r.source_id
        ),
        totals AS (
            SELECT event_id, min(seen_at) AS first_seen_at, max(seen_at) AS last_seen_at,
                   count(DISTINCT article_id) AS article_count, count(DISTINCT outlet) AS outlet_count
            FROM seen GROUP BY event_id
        ),
        stories AS (
            SELECT m.event_id, count(DISTINCT st.story_id) AS story_count
            FROM members m JOIN article_stories st USING (article_id) GROUP BY m.event_id
        ),
        weights AS (
            SELECT m.event_id, lower(u.term) AS key, min(u.term) AS term, round(sum(u.weight), 6) AS weight
            FROM members m
            JOIN (
                SELECT article_id, unnest(terms[:?]) AS term, unnest(weights[:?]) AS weight FROM terms
            ) u USING (article_id)
            GROUP BY m.event_id, lower(u.term)
        ),
        ranked AS (
            SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY weight DESC, key) AS rank FROM weights
        ),
        labels AS (
            SELECT event_id, string_agg(term, ' · ' ORDER BY weight DESC, key) AS label
            FROM ranked WHERE rank <= ? GROUP BY event_id
        )
        SELECT t.event_id, coalesce(l.label, a.title, t.event_id) AS label, t.first_seen_at, t.last_seen_at,
               coalesce(st.story_count, 1) AS story_count, t.article_count, t.outlet_count
        FROM totals t
        LEFT JOIN labels l USING (event_id)
        LEFT JOIN stories st USING (event_id)
        LEFT JOIN articles a ON a.article_id = t.event_id
        ORDER BY t.event_id
        """,
        [list(event_ids), *seen_between, LABEL_SOURCE_TERMS, LABEL_SOURCE_TERMS, LABEL_TERMS],
    )
    store.insert("events", rows, on_conflict="REPLACE")
