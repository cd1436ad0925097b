"""A source's stored history, as the stages read it from the published snapshot (boilerplate learning)."""

from __future__ import annotations

from collections.abc import Collection

from pipelines.storage.store import Store
from pipelines.text.boilerplate import EdgeCounts, SourceHistory, no_history


def stored_edges(view: Store | None) -> SourceHistory:
    """Counts of each source's distinct stored documents and their edge lines; nothing before the first load."""
    if view is None or not _has_source_documents(view):
        return no_history  # nothing loaded yet, or a snapshot published before the table existed

    def lookup(source_id: str, keys: Collection[str], hashes: Collection[str]) -> EdgeCounts:
        stored = "FROM source_documents WHERE source_id = $source AND NOT list_contains($hashes, document_hash)"
        params = {"source": source_id, "hashes": list(hashes)}
        row = view.con.execute(f"SELECT count(*) {stored}", params).fetchone()
        lines = view.con.execute(
            f"SELECT line, count(*) FROM (SELECT unnest(edge_lines) AS line {stored}) "
            "WHERE list_contains($keys, line) GROUP BY line",
            {**params, "keys": list(keys)},
        ).fetchall()
        return EdgeCounts(row[0] if row else 0, dict(lines))

    return lookup


def _has_source_documents(view: Store) -> bool:
    """Whether the snapshot has the table (or a view of it): one published before migration 009 has not."""
    found = view.con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'source_documents'"
    ).fetchone()
    return bool(found and found[0])
