"""What the events step reads and rebuilds over the `Store`: candidates by one join on the index keys, the stored
cores of articles and their spans, the lone articles near a core, the entries a lone article's choice reads,
and the `event_cores`, `article_events` and `events` rows of what a batch touched, from their members.

Terms are the widest rows history holds (sixty terms and weights an input). The reads of `article_terms` are
bounded by `seen_at` constants (a window's days, the span of the events touched): rows are written in about
the order they are seen, so DuckDB skips other days' row groups by their min/max and a read costs what the
window holds, not what history holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pyarrow as pa

from pipelines.dedup.signatures import as_utc
from pipelines.events.grouping import Candidate, EventEntry
from pipelines.storage.store import Store

# An event's label: its LABEL_TERMS heaviest terms, weights summed over the LABEL_SOURCE_TERMS heaviest terms of
# each of its inputs (an input's own heaviest say what it is about; its tail costs the rebuild six times as much).
LABEL_TERMS = 4
LABEL_SOURCE_TERMS = 10


def candidates(store: Store, probes: Sequence[tuple[int, int]]) -> list[Candidate]:
    """Stored entries indexed under one of the (term hash, day) probes, with their core: one join.

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
            "SELECT t.article_id, t.seen_at, t.terms, t.weights, t.specifics, t.principal, t.people, c.core_id"
            " FROM article_terms t JOIN article_cores c USING (article_id)"
            " WHERE t.seen_at >= ? AND t.seen_at < ? AND t.article_id IN ("
            f"  SELECT k.article_id FROM event_keys k JOIN {wanted} USING (term_hash, day)"
            "   WHERE k.day BETWEEN ? AND ?)"
            " ORDER BY t.article_id, t.raw_id",
            [since, until, first, last],
        ).fetchall()
    return [Candidate(_entry(row), core) for *row, core in found]


def _entry(row: Sequence[Any]) -> EventEntry:
    article_id, seen, terms, weights, rare, principal, people = row
    return EventEntry(
        article_id, as_utc(seen), tuple(terms), tuple(weights), frozenset(rare), principal, frozenset(people)
    )


# The list of ids a query of this module takes as its one parameter.
IDS = "(SELECT unnest(?::VARCHAR[]))"


def _for_ids(store: Store, sql: str, ids: Iterable[str]) -> list[tuple[Any, ...]]:
    """The rows of `sql`, whose one parameter (IDS) is these ids."""
    return store.con.execute(sql, [sorted(set(ids))]).fetchall()


def stored_cores(store: Store, article_ids: Iterable[str]) -> dict[str, str]:
    """The core each of these articles is stored in, for those that are."""
    return dict(
        _for_ids(store, f"SELECT article_id, core_id FROM article_cores WHERE article_id IN {IDS}", article_ids)
    )


def core_spans(store: Store, core_ids: Iterable[str]) -> dict[str, tuple[datetime, datetime]]:
    """(first seen, last seen) of each stored core: the earlier first seen names a merged core, and every
    member input of a core was seen within its span."""
    found = _for_ids(
        store, f"SELECT core_id, first_seen_at, last_seen_at FROM event_cores WHERE core_id IN {IDS}", core_ids
    )
    return {core_id: (as_utc(first), as_utc(last)) for core_id, first, last in found}


def core_members(store: Store, core_ids: Iterable[str]) -> list[str]:
    """Every article of these stored cores."""
    found = _for_ids(
        store, f"SELECT article_id FROM article_cores WHERE core_id IN {IDS} ORDER BY article_id", core_ids
    )
    return [article_id for (article_id,) in found]


def joins_of(store: Store, core_ids: Iterable[str]) -> dict[str, str]:
    """The core each of these lone cores joined, for those that joined one."""
    return dict(
        _for_ids(
            store, f"SELECT core_id, joins FROM event_cores WHERE core_id IN {IDS} AND joins IS NOT NULL", core_ids
        )
    )


def rebuild_cores(store: Store, core_ids: Sequence[str], seen_between: tuple[datetime, datetime]) -> dict[str, int]:
    """The `event_cores` rows of these cores from their members as stored now (what a lone one joined stays
    until it decides again); returns each one's article count. `seen_between` bounds the reads as in
    `rebuild_events`."""
    rows = store.dicts(
        """
        SELECT c.core_id, min(t.seen_at) AS first_seen_at, max(t.seen_at) AS last_seen_at,
               count(DISTINCT c.article_id) AS article_count,
               CASE WHEN count(DISTINCT c.article_id) = 1 THEN any_value(old.joins) END AS joins
        FROM article_cores c
        JOIN article_terms t ON t.article_id = c.article_id AND t.seen_at BETWEEN ? AND ?
        LEFT JOIN event_cores old ON old.core_id = c.core_id
        WHERE c.core_id IN (SELECT unnest(?::VARCHAR[]))
        GROUP BY c.core_id ORDER BY c.core_id
        """,
        [*seen_between, list(core_ids)],
    )
    store.insert("event_cores", rows, on_conflict="REPLACE")
    return {row["core_id"]: row["article_count"] for row in rows}


def lone_cores_near(
    store: Store, article_ids: Sequence[str], seen_between: tuple[datetime, datetime], window_days: int
) -> list[str]:
    """Cores of one article sharing an index key with one of these articles, `window_days` apart at most:
    every lone article whose neighbours they are. `seen_between` holds every input of these articles: the
    reads of keys keep to its days and the window around them."""
    first, last = (moment.astimezone(UTC).date().toordinal() for moment in seen_between)
    found = store.con.execute(
        f"""
        WITH member_keys AS (
            SELECT DISTINCT term_hash, day FROM event_keys
            WHERE article_id IN {IDS} AND day BETWEEN ? AND ?
        ),
        near AS (
            SELECT DISTINCT k.article_id FROM event_keys k JOIN member_keys m
            ON k.term_hash = m.term_hash AND k.day BETWEEN m.day - ? AND m.day + ?
            WHERE k.day BETWEEN ? AND ?
        )
        SELECT DISTINCT c.core_id FROM near n
        JOIN article_cores c USING (article_id) JOIN event_cores e USING (core_id)
        WHERE e.article_count = 1 ORDER BY c.core_id
        """,
        [sorted(set(article_ids)), first, last, window_days, window_days, first - window_days, last + window_days],
    ).fetchall()
    return [core_id for (core_id,) in found]


def lone_cores_of(store: Store, article_ids: Iterable[str]) -> list[str]:
    """The cores of these articles that hold one article."""
    found = _for_ids(
        store,
        "SELECT DISTINCT c.core_id FROM article_cores c JOIN event_cores e USING (core_id)"
        f" WHERE c.article_id IN {IDS} AND e.article_count = 1 ORDER BY c.core_id",
        article_ids,
    )
    return [core_id for (core_id,) in found]


def core_entries(
    store: Store, core_ids: Iterable[str], seen_between: tuple[datetime, datetime]
) -> dict[str, list[EventEntry]]:
    """The entries of these cores' articles seen within `seen_between`, by core."""
    found = store.con.execute(
        "SELECT t.article_id, t.seen_at, t.terms, t.weights, t.specifics, t.principal, t.people, c.core_id"
        " FROM article_terms t JOIN article_cores c USING (article_id)"
        " WHERE t.seen_at BETWEEN ? AND ? AND c.core_id IN (SELECT unnest(?::VARCHAR[]))"
        " ORDER BY t.article_id, t.raw_id",
        [*seen_between, sorted(set(core_ids))],
    ).fetchall()
    by_core: dict[str, list[EventEntry]] = {}
    for *row, core in found:
        by_core.setdefault(core, []).append(_entry(row))
    return by_core


def core_sizes(store: Store, core_ids: Iterable[str]) -> dict[str, int]:
    """The article count of each of these stored cores."""
    return dict(_for_ids(store, f"SELECT core_id, article_count FROM event_cores WHERE core_id IN {IDS}", core_ids))


def set_joins(store: Store, joins: Mapping[str, str | None]) -> None:
    """Record which core each of these lone cores joined (None: none)."""
    store.con.execute(
        "UPDATE event_cores SET joins = j.joins FROM (SELECT unnest(?::VARCHAR[]) AS core_id,"
        " unnest(?::VARCHAR[]) AS joins) j WHERE event_cores.core_id = j.core_id",
        [list(joins), list(joins.values())],
    )


def rewrite_article_events(
    store: Store, event_cores: Iterable[str]
) -> tuple[list[str], list[str], tuple[datetime, datetime] | None]:
    """`article_events` of every article of the events of these cores (a core with the lone cores that joined
    it, or a lone core alone): each event's id is its earliest core's (first seen, then id). Returns the event
    ids those articles had before and have now, and a span holding every input of those events."""
    cores = sorted(set(event_cores))
    members = """
        WITH asked AS (SELECT unnest(?::VARCHAR[]) AS core_id),
        heads AS (
            SELECT DISTINCT coalesce(e.joins, e.core_id) AS event_core FROM event_cores e JOIN asked USING (core_id)
        ),
        cores AS (
            SELECT e.core_id, h.event_core, e.first_seen_at, e.last_seen_at
            FROM event_cores e JOIN heads h ON e.core_id = h.event_core
            UNION
            SELECT e.core_id, h.event_core, e.first_seen_at, e.last_seen_at
            FROM event_cores e JOIN heads h ON e.joins = h.event_core
        ),
        events AS (
            SELECT event_core, arg_min(core_id, (first_seen_at, core_id)) AS event_id FROM cores GROUP BY event_core
        )
        SELECT c.article_id, ev.event_id, k.first_seen_at, k.last_seen_at
        FROM cores k JOIN events ev USING (event_core) JOIN article_cores c ON c.core_id = k.core_id
    """
    rows = store.dicts(members + " ORDER BY c.article_id", [cores])
    span = [(as_utc(row.pop("first_seen_at")), as_utc(row.pop("last_seen_at"))) for row in rows]
    before = store.con.execute(
        "SELECT DISTINCT event_id FROM article_events WHERE article_id IN (SELECT unnest(?::VARCHAR[]))",
        [[row["article_id"] for row in rows]],
    ).fetchall()
    store.insert("article_events", rows, on_conflict="REPLACE")
    between = (min(first for first, _ in span), max(last for _, last in span)) if span else None
    return sorted(event_id for (event_id,) in before), sorted({row["event_id"] for row in rows}), between


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
