"""The load's events step: every changed body version joins a core, and the lone articles near a changed core
choose the core they join (pipelines.events.grouping decides both); `article_events` re-points the articles
of every event that changed and `events` rebuilds their rows.

Runs after the stories step: a story's copies share its event, and the signatures it saved give the
`events` rows their outlets and times.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from pipelines.config import EventConfig
from pipelines.dedup.signatures import as_utc
from pipelines.events.grouping import Candidate, CoreChange, EventEntry, joined_core, params_key, plan_cores
from pipelines.storage import event_queries
from pipelines.storage.batch import LoadBatch, Row, seen_at
from pipelines.storage.recorded import check_recorded
from pipelines.storage.store import Store


def load_events(batch: LoadBatch) -> None:
    """Every fresh input's article into a core, then the lone articles near a changed core into events; one
    the model could not read has no terms and joins by its story.

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
    stored = event_queries.stored_cores(store, [*(e.article_id for e in entries), *batch.story_of])
    spans = event_queries.core_spans(store, {*stored.values(), *(candidate.core_id for candidate in history)})
    order = {core_id: (first, core_id) for core_id, (first, _) in spans.items()}
    plan = plan_cores(entries, history, stored, order, stories.values(), cfg)
    _insert_terms_and_keys(batch, entries, changed)
    if plan:
        # Every core the plan touched was one of `spans` or is new: its members were seen in this span.
        seen = [*(e.seen_at for e in entries), *(time for span in spans.values() for time in span)]
        _write_plan(store, plan, history, spans, (min(seen), max(seen)), cfg)


def _write_plan(
    store: Store,
    plan: Sequence[CoreChange],
    history: Sequence[Candidate],
    spans: Mapping[str, tuple[datetime, datetime]],
    between: tuple[datetime, datetime],
    cfg: EventConfig,
) -> None:
    """Steps 4 to 6 of the protocol (pipelines.events.grouping): the cores, the lone articles' choices, the events."""
    absorbed = sorted({core_id for change in plan for core_id in change.absorbed})
    moved = event_queries.core_members(store, absorbed)
    core_of = {article_id: change.core_id for change in plan for article_id in change.articles}
    old = event_queries.stored_cores(store, moved)
    new_id = {old_id: change.core_id for change in plan for old_id in change.absorbed}
    core_of.update({article_id: new_id[old[article_id]] for article_id in moved})
    store.insert(
        "article_cores", [{"article_id": a, "core_id": c} for a, c in sorted(core_of.items())], on_conflict="REPLACE"
    )
    touched = [change.core_id for change in plan]
    joined_before = event_queries.joins_of(store, [*touched, *absorbed])
    sizes_before = event_queries.core_sizes(store, touched)
    store.delete("event_cores", "core_id", absorbed)
    sizes = event_queries.rebuild_cores(store, touched, between)
    # Stored articles that are now in another core of two or more than before: the members of absorbed cores,
    # and the one article of a lone core that grew. A lone article with one of them as a neighbour decides
    # again (a neighbour the batch brought makes it one of `history`).
    grown = [c.core_id for c in plan if not c.absorbed and sizes_before.get(c.core_id) == 1 and sizes[c.core_id] > 1]
    regrouped = [*moved, *grown]  # a lone core's id is its one article
    lone = sorted(
        {core_id for core_id, size in sizes.items() if size == 1}
        | set(event_queries.lone_cores_of(store, {candidate.entry.article_id for candidate in history}))
        | set(_lone_cores_near(store, regrouped, [spans[core_id] for core_id in [*absorbed, *grown]], cfg))
    )
    joined_before.update(event_queries.joins_of(store, lone))
    joins = lone_choices(store, lone, cfg)
    event_queries.set_joins(store, joins)
    changed_events = {*touched, *lone, *joined_before.values(), *(core for core in joins.values() if core)}
    before, after, members_seen = event_queries.rewrite_article_events(store, changed_events)
    store.delete("events", "event_id", sorted(set(before) - set(after)))
    if members_seen is not None:
        event_queries.rebuild_events(store, after, members_seen)


def _lone_cores_near(
    store: Store, articles: Sequence[str], spans: Sequence[tuple[datetime, datetime]], cfg: EventConfig
) -> list[str]:
    if not articles:
        return []
    between = (min(first for first, _ in spans), max(last for _, last in spans))
    return event_queries.lone_cores_near(store, articles, between, cfg.window_days)


def _insert_terms_and_keys(batch: LoadBatch, entries: list[EventEntry], changed: list[Row]) -> None:
    cfg = batch.settings.events
    batch.store.insert(
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
    batch.store.insert(
        "event_keys",
        [{"term_hash": term, "day": day, "article_id": e.article_id} for e in entries for term, day in e.keys(cfg)],
    )


def lone_choices(store: Store, lone: Sequence[str], cfg: EventConfig) -> dict[str, str | None]:
    """The core each lone core joins (None: none), from the stored entries of cores of two or more articles
    that share an index key with it: one lookup for all of them."""
    if not lone:
        return {}
    spans = event_queries.core_spans(store, lone)
    own = event_queries.core_entries(
        store, lone, (min(start for start, _ in spans.values()), max(end for _, end in spans.values()))
    )
    found = event_queries.candidates(
        store, sorted({p for entries in own.values() for e in entries for p in e.probes(cfg)})
    )
    sizes = event_queries.core_sizes(store, {candidate.core_id for candidate in found})
    by_word: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in found:
        if sizes.get(candidate.core_id, 0) > 1:
            for word in candidate.entry.index_terms(cfg):
                by_word[word].append(candidate)
    choices: dict[str, str | None] = {}
    for core_id in lone:
        entries = own.get(core_id, [])
        near = {id(c): c for e in entries for word in e.index_terms(cfg) for c in by_word.get(word, ())}
        choices[core_id] = joined_core(entries, near.values(), cfg) if entries else None
    return choices


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
