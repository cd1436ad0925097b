"""Events: the stories that report one real-world happening, decided by pure functions; the load only reads and writes.

Units. An *entry* is one input of one article (its body changed or not) with its salient terms
(pipelines.nlp.terms), and `seen_at`, the published time, else the fetch time, of that input.

Relation between two entries a, b (a symmetric function of the pair alone, `related`):
- they were seen within `window_days` of each other: two earthquakes of one region a month apart are two
  events. An input with no date counts at the time it was read, so a folder of undated texts loaded
  together is decided by its words: who, where, how much, what happened;
- one of the `index_terms` heaviest words (figures aside) of one is one of the other's: the index finds
  exactly these;
- they are not mainly about two different people (`other_people`): when each has a principal person
  (pipelines.nlp.terms.participants), the two are the same, or each names the other's;
- the cosine of their term weights is at least `threshold`, or at least `specific_threshold` when they
  share `specific_terms` rare terms: two reports of one happening share its specifics (the names, places
  and figures seldom written together otherwise), two happenings of one kind share their vocabulary.

A *core* is a connected component of the graph whose edges are these relations and deduplication's
stories (every copy of a story is in its story's core). As with stories, every edge depends on its pair
alone, so the components are the same for any arrival order and batching, and an article that relates to
two cores merges them when it arrives (single link): a core is a chain of reports, each within
`window_days` of the next.

A *lone* article, the only article of its core, relates to no other report on its own words: two outlets
rarely write one happening alike enough. Taken together, the reports of a core say more than any one of
them, so a lone article joins the core of two or more articles whose reports near it (sharing an index
word with one of its inputs, seen within `window_days` of that input), summed, are nearest its own terms
(`joined_core`), when that cosine is at least `join_threshold`. On ECB+ dev this took B-cubed F1 from
0.892 to 0.935. Only a lone article joins, and only a core of two or more: a joined article never carries
another one in, so joins do not chain events of one kind together.

An *event* is a core of two or more articles with the lone articles that joined it, or a lone article that
joined none. The grouping is a function of the set of inputs: the cores are, and a lone article's choice
depends only on its neighbours and their cores. A lone article decides again when a batch brings it a
neighbour, or merges the cores of its neighbours, or gives a lone neighbour company: it can move to
another event as coverage grows.

Ids: a core's id is its article with the smallest order key (earliest `seen_at` over its entries, then
article_id), and an event's the smallest of its cores' (its first report). When cores merge, the merged
one keeps the id of the one that started first; an id changes only when a report seen before every member
arrives late, or a lone article that was an event's first report leaves it. Either way, the id is a
function of the event's members, not of the order they came in.

The load's `events` step (pipelines.storage.steps.events), one transaction per batch:
1. the batch's entries (every fresh input of an article, copies included), from the staged terms;
2. history candidates: stored entries sharing an index key (term, day within the window) with the batch,
   with their current core (one join, `pipelines.storage.event_queries.candidates`), and the stored cores
   of the batch's articles and of every article of a story the batch touched;
3. ``plan = plan_cores(entries, history, stored, stories, cfg)`` (pure);
4. the load writes the plan: terms and keys of the entries, `article_cores` of every article of a touched
   core and the `event_cores` rows of touched cores;
5. every lone article whose neighbours changed decides which core it joins (`joined_core`, pure): those the
   batch brought a neighbour (they are among the history candidates), and those with a neighbour now in
   another core of two or more: a member of an absorbed core, or the article of a lone core that grew
   (found by the keys of those articles);
6. `article_events` of every article of an event that changed, and their `events` rows, from the members.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

from pipelines.config import EventConfig
from pipelines.nlp.terms import TERMS_SCHEME, is_figure

OrderKey = tuple[datetime, str]


def params_key(cfg: EventConfig, spacy_model: str) -> str:
    """Everything stored terms, keys and groupings depend on: the store keeps it and refuses a load made otherwise.

    The model and wordfreq's word list make the terms; the parameters group them.
    """
    return (
        f"{TERMS_SCHEME}:model={spacy_model}:wordfreq={version('wordfreq')}:threshold={cfg.threshold}:specific={cfg.specific_threshold}x{cfg.specific_terms}"
        f":rare={cfg.rare}:join={cfg.join_threshold}:window={cfg.window_days}d"
        f":index={cfg.index_terms}:stored={cfg.stored_terms}"
    )


def term_hash(term: str) -> int:
    """A stable 64-bit hash of a term's lowercase form: the index key's first part."""
    return int.from_bytes(hashlib.blake2b(term.lower().encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One body version of one article, with its salient terms (heaviest first) and unit-length weights."""

    article_id: str
    seen_at: datetime
    terms: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    specifics: frozenset[str] = frozenset()  # its rare words (pipelines.nlp.terms.article_terms)
    principal: str | None = None  # the person it names most often (pipelines.nlp.terms.participants)
    people: frozenset[str] = frozenset()
    # Derived in __post_init__ (not arguments: `dataclasses.replace` must not hand them to the copy).
    _vector: dict[str, float] = field(init=False, default_factory=dict, compare=False, repr=False)
    _words: list[str] = field(init=False, default_factory=list, compare=False, repr=False)  # lowercase, no figures
    _index: dict[int, frozenset[str]] = field(init=False, default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for term, weight in zip(self.terms, self.weights, strict=True):
            key = term.lower()
            if key not in self._vector and not is_figure(key):
                self._words.append(key)
            self._vector[key] = self._vector.get(key, 0.0) + weight

    def index_terms(self, cfg: EventConfig) -> frozenset[str]:
        """Its heaviest `cfg.index_terms` words. Figures are left out: wordfreq cannot tell a common figure
        ("1,000", "2024") from a rare one, and a figure in every tenth article would be a key to all of them."""
        found = self._index.get(cfg.index_terms)
        if found is None:
            found = self._index[cfg.index_terms] = frozenset(self._words[: cfg.index_terms])
        return found

    @property
    def day(self) -> int:
        """The UTC day it was seen, as date.toordinal numbers it."""
        return self.seen_at.astimezone(UTC).date().toordinal()

    def keys(self, cfg: EventConfig) -> list[tuple[int, int]]:
        """(term hash, day) of its index terms: what the store indexes it under."""
        day = self.day
        return [(term_hash(term), day) for term in sorted(self.index_terms(cfg))]

    def probes(self, cfg: EventConfig) -> list[tuple[int, int]]:
        """(term hash, day) of its index terms over every day of its window: what it looks history up by."""
        return [
            (term, day + offset)
            for term, day in self.keys(cfg)
            for offset in range(-cfg.window_days, cfg.window_days + 1)
        ]


def cosine(a: EventEntry, b: EventEntry) -> float:
    """Their dot product (weights are unit length): cosine(a, b) == cosine(b, a) to the last bit, so a pair at
    the threshold is decided one way."""
    return _dot(a._vector, b._vector)


def _dot(x: Mapping[str, float], y: Mapping[str, float]) -> float:
    """Summed exactly over the shared terms in sorted order: the same in either order of the two."""
    return math.fsum(x[term] * y[term] for term in sorted(x.keys() & y.keys()))


def shared_rare_terms(a: EventEntry, b: EventEntry) -> int:
    """Rare words (names, places) the two share; the stage chose them, figures never among them."""
    return len(a.specifics & b.specifics)


def other_people(a: EventEntry, b: EventEntry) -> bool:
    """Each is mainly about a different person, and one of them never names the other's: two arrests, not one."""
    if a.principal is None or b.principal is None or a.principal == b.principal:
        return False
    return a.principal not in b.people or b.principal not in a.people


def related(a: EventEntry, b: EventEntry, cfg: EventConfig) -> bool:
    """Whether two entries report the same happening: a symmetric function of the pair alone."""
    if abs(a.seen_at - b.seen_at) > timedelta(days=cfg.window_days):
        return False
    if not a.index_terms(cfg) & b.index_terms(cfg) or other_people(a, b):
        return False
    score = cosine(a, b)
    if score >= cfg.threshold:
        return True
    return score >= cfg.specific_threshold and shared_rare_terms(a, b) >= cfg.specific_terms


def joined_core(lone: Sequence[EventEntry], near: Iterable[Candidate], cfg: EventConfig) -> str | None:
    """The core a lone article joins, or None. `near`: stored entries of cores of two or more articles.

    Its neighbours are the entries of `near` that share an index word with one of its entries and were
    seen within `window_days` of that entry: exactly what the index keys of its entries find (and what
    finds it again when a neighbour arrives). It joins the core whose neighbours, summed, are nearest the
    sum of its own entries, at a cosine of at least `join_threshold`. Ties go to the smaller core id. Sums
    are exact (math.fsum), so the choice is the same for any order of `near`."""
    window = timedelta(days=cfg.window_days)
    neighbours: dict[str, list[EventEntry]] = {}
    for candidate in near:
        entry = candidate.entry
        if any(
            abs(entry.seen_at - own.seen_at) <= window and own.index_terms(cfg) & entry.index_terms(cfg) for own in lone
        ):
            neighbours.setdefault(candidate.core_id, []).append(entry)
    own_sum = _unit_sum(lone)
    best: tuple[float, str] | None = None
    for core_id in sorted(neighbours):
        score = _dot(own_sum, _unit_sum(neighbours[core_id]))
        if score >= cfg.join_threshold and (best is None or score > best[0]):
            best = (score, core_id)
    return best[1] if best else None


def _unit_sum(entries: Sequence[EventEntry]) -> dict[str, float]:
    """The entries' term weights summed (exactly, whatever their order) and scaled to unit length."""
    parts: dict[str, list[float]] = {}
    for entry in entries:
        for term, weight in entry._vector.items():
            parts.setdefault(term, []).append(weight)
    summed = {term: math.fsum(weights) for term, weights in parts.items()}
    norm = math.sqrt(math.fsum(weight * weight for weight in summed.values())) or 1.0
    return {term: weight / norm for term, weight in summed.items()}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored entry the store's lookup returned, with the core it belongs to now."""

    entry: EventEntry
    core_id: str


@dataclass(frozen=True, slots=True)
class CoreChange:
    """One core as a batch leaves it: its id, the stored cores it absorbed and the articles it gained."""

    core_id: str
    absorbed: tuple[str, ...]  # stored cores now part of this one, under its id (sorted)
    articles: tuple[str, ...]  # articles of the batch in no stored core before (sorted)


class _TermIndex:
    """Entries by their index terms: an entry is compared only with those sharing one (the relation needs it)."""

    def __init__(self, cfg: EventConfig) -> None:
        self.cfg = cfg
        self._entries: list[tuple[EventEntry, tuple[str, str]]] = []
        self._by_term: dict[str, list[int]] = {}

    def add(self, entry: EventEntry, node: tuple[str, str]) -> None:
        for term in entry.index_terms(self.cfg):
            self._by_term.setdefault(term, []).append(len(self._entries))
        self._entries.append((entry, node))

    def sharing(self, entry: EventEntry) -> list[tuple[EventEntry, tuple[str, str]]]:
        """Indexed entries sharing an index term with `entry`, in the order they were added."""
        found = sorted({i for term in entry.index_terms(self.cfg) for i in self._by_term.get(term, ())})
        return [self._entries[i] for i in found]


@dataclass(slots=True)
class _Groups:
    """Union-find over nodes: ("core", id) for a stored core, ("article", id) for an article new to events."""

    parent: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def find(self, node: tuple[str, str]) -> tuple[str, str]:
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def plan_cores(
    entries: Sequence[EventEntry],
    history: Iterable[Candidate],
    stored_core_of: Mapping[str, str],
    core_order: Mapping[str, OrderKey],
    stories: Iterable[Sequence[str]],
    cfg: EventConfig,
) -> list[CoreChange]:
    """Put a batch's entries into cores (step 3 of the protocol above).

    `history`: stored entries sharing an index key with the batch, each with its core as stored;
    `stored_core_of`: the stored core of each batch article and story member that has one;
    `core_order`: the order key (first seen, id) of every stored core named in the two above;
    `stories`: the articles of each story the batch touched (they share one core).
    """
    groups = _Groups()
    history = list(history)
    batch = {entry.article_id for entry in entries}

    def node(article_id: str) -> tuple[str, str]:
        stored = stored_core_of.get(article_id)
        return ("core", stored) if stored is not None else ("article", article_id)

    for candidate in history:
        groups.find(("core", candidate.core_id))
    stored = _TermIndex(cfg)
    for candidate in history:
        stored.add(candidate.entry, ("core", candidate.core_id))
    arrived = _TermIndex(cfg)
    for entry in sorted(entries, key=lambda e: (e.article_id, e.seen_at)):
        own = node(entry.article_id)
        groups.find(own)
        for other, other_node in [*stored.sharing(entry), *arrived.sharing(entry)]:
            if related(entry, other, cfg):
                groups.union(own, other_node if other_node[0] == "core" else node(other.article_id))
        arrived.add(entry, own)
    for story in stories:
        for article_id in story[1:]:
            groups.union(node(story[0]), node(article_id))
    return _changes(groups, entries, {article_id: groups.find(node(article_id)) for article_id in batch}, core_order)


def _changes(
    groups: _Groups,
    entries: Sequence[EventEntry],
    group_of: Mapping[str, tuple[str, str]],
    core_order: Mapping[str, OrderKey],
) -> list[CoreChange]:
    """Every group with an entry of the batch or cores merged, with the id its members' order keys give it."""
    seen_at: dict[str, datetime] = {}
    for entry in entries:
        seen_at[entry.article_id] = min(entry.seen_at, seen_at.get(entry.article_id, entry.seen_at))
    members: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for item in sorted(groups.parent):
        members.setdefault(groups.find(item), []).append(item)
    batch_of: dict[tuple[str, str], list[str]] = {}
    for article_id, root in sorted(group_of.items()):
        batch_of.setdefault(root, []).append(article_id)
    changes = []
    for root, nodes in members.items():
        cores = sorted(name for kind, name in nodes if kind == "core")
        arrived = batch_of.get(root, [])
        if not arrived and len(cores) <= 1:
            continue
        keys = [core_order[core] for core in cores] + [(seen_at[a], a) for a in arrived]
        core_id = min(keys)[1]
        new = tuple(name for kind, name in nodes if kind == "article")
        changes.append(CoreChange(core_id, tuple(c for c in cores if c != core_id), tuple(sorted(new))))
    return sorted(changes, key=lambda change: change.core_id)
