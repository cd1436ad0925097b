"""The load's events step: every changed body version joins an event (pipelines.events.grouping decides);
`article_events` re-points the articles of merged events and `events` rebuilds the rows of touched ones.

Runs after the stories step: a story's copies share its event, and the signatures it saved give the
`events` rows their outlets and times.
"""

from __future__ import annotations

from collections import defaultdict

from pipelines.dedup.signatures import as_utc
from pipelines.events.grouping import EventEntry, params_key, plan_events
from pipelines.storage import event_queries
from pipelines.storage.batch import LoadBatch, Row, seen_at
from pipelines.storage.recorded import check_recorded


def load_events(batch: LoadBatch) -> None:
    """Every fresh input's article into events; one the model could not read has no terms and joins by its story.

    Inputs whose body equals the stored version count too (not only changed versions, as for stories): an
    article is seen at its earliest input, whichever arrived first, and the window is measured from there.
    """
    store, cfg = batch.store, batch.settings.events
    check_recorded(store, "event_state", "params_key", params_key(cfg, batch.settings.spacy_model), "event terms")
    changed = [row for row in batch.rows["articles"] if row["raw_id"] in batch.fresh_ids]
    staged = {(row["article_id"], row["raw_id"]): row for row in batch.rows.get("article_terms", [])}
    entries = [_entry(row, staged.get((row["article_id"], row["raw_id"]))) for row in changed]
    history = event_queries.candidates(store, sorted({probe for e in entries for probe in e.probes(cfg)}))
    stories: dict[str, list[str]] = defaultdict(list)
    for article_id, story_id in batch.story_of.items():
        stories[story_id].append(article_id)
    stored = event_queries.stored_events(store, [*(e.article_id for e in entries), *batch.story_of])
    spans = event_queries.event_spans(store, {*stored.values(), *(candidate.event_id for candidate in history)})
    order = {event_id: (first, event_id) for event_id, (first, _) in spans.items()}
    plan = plan_events(entries, history, stored, order, stories.values(), cfg)
    store.insert(
        "article_terms",
        [
            {
                "article_id": e.article_id,
                "raw_id": row["raw_id"],
                "seen_at": e.seen_at,
                "terms": list(e.terms),
                "weights": list(e.weights),
                "specifics": sorted(e.specifics),
                "principal": e.principal,
                "people": sorted(e.people),
            }
            for e, row in zip(entries, changed, strict=True)
        ],
        on_conflict="NOTHING",
    )
    store.insert(
        "event_keys",
        [{"term_hash": term, "day": day, "article_id": e.article_id} for e in entries for term, day in e.keys(cfg)],
    )
    absorbed = sorted({event_id for change in plan for event_id in change.absorbed})
    moved = event_queries.members(store, absorbed)
    event_of = {article_id: change.event_id for change in plan for article_id in change.articles}
    old = event_queries.stored_events(store, moved)
    new_id = {old_id: change.event_id for change in plan for old_id in change.absorbed}
    event_of.update({article_id: new_id[old[article_id]] for article_id in moved})
    store.insert(
        "article_events", [{"article_id": a, "event_id": e} for a, e in sorted(event_of.items())], on_conflict="REPLACE"
    )
    store.delete("events", "event_id", absorbed)
    # Every event the plan touched was one of `spans` or is new: its members were seen in this span.
    seen = [*(e.seen_at for e in entries), *(time for span in spans.values() for time in span)]
    if plan:
        event_queries.rebuild_events(store, [change.event_id for change in plan], (min(seen), max(seen)))


def _entry(row: Row, terms: Row | None) -> EventEntry:
    seen = as_utc(seen_at(row))
    if terms is None:
        return EventEntry(row["article_id"], seen)
    return EventEntry(
        row["article_id"],
        seen,
        tuple(terms["terms"]),
        tuple(terms["weights"]),
        frozenset(terms["specifics"]),
        terms["principal"],
        frozenset(terms["people"]),
    )
