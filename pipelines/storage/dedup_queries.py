"""What the dedup step reads over the `Store`: stored article versions, signature candidates by one join, a story's
entries, the provenance a duplicate row points to; and the one dedup index key the stored signatures were made with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from pipelines.dedup.signatures import DedupEntry, as_utc
from pipelines.dedup.stories import Candidate
from pipelines.storage.recorded import check_recorded
from pipelines.storage.store import Store
from pipelines.storage.versions import StoredVersion
from pipelines.tables import check_table


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an article's latest entry came from."""

    raw_id: str
    url: str | None
    source_id: str


def current_versions(store: Store, article_ids: Iterable[str]) -> dict[str, StoredVersion]:
    """Latest version, its content hash and the first load time of each stored article among `article_ids`."""
    found = _per_article(
        store, "article_versions", "max(version), arg_max(content_hash, version), min(loaded_at)", article_ids
    )
    return {
        article_id: StoredVersion(version, content_hash, first_seen)
        for article_id, version, content_hash, first_seen in found
    }


def check_index(store: Store, index_key: str) -> None:
    """Stored signatures are only comparable with ones made the same way: record the key once, refuse another."""
    check_recorded(store, "dedup_state", "index_key", index_key, "dedup signatures")


def candidates(store: Store, entries: Sequence[DedupEntry], band_hashes: Sequence[int]) -> list[Candidate]:
    """Stored entries sharing an article id, a fingerprint or an LSH band with the batch: one join, no scan of pairs."""
    # An Arrow uint64 column: Python ints above 2**63 would not bind exactly as a parameter.
    probe = pa.table({"band_hash": pa.array(band_hashes, type=pa.uint64())})
    with store.arrow(probe) as batch_bands:
        found = store.con.execute(
            "SELECT s.article_id, s.fingerprint, s.signature, s.seen_at, st.story_id"
            " FROM article_signatures s JOIN article_stories st USING (article_id)"
            " WHERE s.article_id IN (SELECT unnest(?::VARCHAR[]))"
            " OR s.fingerprint IN (SELECT unnest(?::VARCHAR[]))"
            f" OR s.article_id IN (SELECT b.article_id FROM dedup_bands b JOIN {batch_bands} USING (band_hash))",
            [[e.article_id for e in entries], [e.fingerprint for e in entries if e.fingerprint]],
        ).fetchall()
    return [Candidate(_entry(row), row[4]) for row in found]


def story_entries(store: Store, story_id: str) -> list[DedupEntry]:
    """Every stored entry of one story."""
    found = store.con.execute(
        "SELECT s.article_id, s.fingerprint, s.signature, s.seen_at FROM article_signatures s"
        " JOIN article_stories st USING (article_id) WHERE st.story_id = ?",
        [story_id],
    ).fetchall()
    return [_entry(row) for row in found]


def latest_provenance(store: Store, article_ids: Iterable[str]) -> dict[str, Provenance]:
    """Raw input, URL and source of each article's latest seen entry: what its duplicate row points to."""
    found = _per_article(
        store,
        "article_signatures",
        "arg_max(raw_id, seen_at), arg_max(url, seen_at), arg_max(source_id, seen_at)",
        article_ids,
    )
    return {article_id: Provenance(raw_id, url, source_id) for article_id, raw_id, url, source_id in found}


def _per_article(store: Store, table: str, aggregates: str, article_ids: Iterable[str]) -> list[tuple[Any, ...]]:
    """(article_id, *aggregates) over `table`'s rows of each of `article_ids` that it holds."""
    return store.con.execute(
        f"SELECT article_id, {aggregates} FROM {check_table(table)}"
        " WHERE article_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY article_id",
        [sorted(set(article_ids))],
    ).fetchall()


def _entry(row: tuple[Any, ...]) -> DedupEntry:
    article_id, fingerprint, signature, seen_at = row[:4]
    return DedupEntry(article_id, fingerprint, tuple(signature or ()), as_utc(seen_at))
