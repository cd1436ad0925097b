"""Deduplication's stories: one story per set of copies, decided by pure functions; the load only reads and writes.

Units. An *entry* is one stored body version of one article (`article_id` is derived from the
canonical URL by pipelines.text.articles, so re-polls and tracking-parameter variants of a page share it).
Bodies arrive after pipelines.text.normalize has stripped boilerplate (schemas/boilerplate.yaml); here
they are only hash-normalized (NFKC, quote and dash variants, invisible characters, case, whitespace).

Relations between two entries a, b (each a symmetric function of the pair alone):
- ``url``: same article_id: a re-poll or a new version of one page (store: `article_versions`);
- ``exact``: same fingerprint of the hash-normalized body;
- ``minhash``: their MinHash signatures (word shingles, datasketch) collide in at least one LSH band
  and the estimated Jaccard similarity is >= `threshold`.
Bodies under `min_tokens` tokens get neither fingerprint nor signature: fragments (a caption, a
"watch the video" stub) would otherwise match on one stock sentence. A site template longer than the
floor must be stripped upstream (normalize does).

Transitivity: a story is a connected component of this graph (single link). Every entry's bands are
stored (not only the canonical's), so an arriving entry finds all of its stored neighbours; as every
relation depends on the pair alone, the components are the same for any arrival order and batching.
A chain A~B~C joins A and C even when A!~C. Jaccard distance is a metric, so after n minhash hops
J(A, C) >= 1 - n * (1 - threshold) (0.3 for one bridge at 0.65): a single copy cannot bridge two
unrelated texts. The alternative, "join only when similar to the canonical", depends on which copy
happened to be canonical when the bridge arrived, and so on arrival order.

Canonical article of a story: the smallest order key, (earliest `seen_at` over the article's
entries, article_id); `seen_at` is the published time, else the fetch time, of the input itself.
When an earlier article arrives, or an entry bridges two stories, `resolve_story` recomputes the
canonical and every link of the merged story.

The load's `stories` step (pipelines.storage.steps.stories), one transaction per batch, entries one
after another in any order (so copies within the batch and copies of history are treated alike):
1. ``entry = make_entry(article_id, body_text, seen_at, cfg)`` for each new body version (pure);
2. history candidates: stored entries with the same article_id, the same fingerprint, or one of
   ``band_hashes(entries, cfg)``, each with its story's current story_id: one join of the batch
   against `dedup_bands` / `article_signatures`, read by `pipelines.storage.dedup_queries.candidates`;
3. ``plan = plan_stories(entries, history, stored_members, cfg)`` (pure but for the callback
   ``stored_members(story_id)``, `dedup_queries.story_entries`): per entry, ``find_matches`` against the
   history (``EntryIndex.current``) and the batch so far (``EntryIndex.candidates``); no match
   starts a story (story_id = article_id, no link), else ``resolve_story`` over every entry of the
   matched stories and the new one;
4. the load writes the plan: each entry's signature and band rows, `article_stories` for every
   article of a touched story (``plan.story_of()``), their `article_duplicates` rows replaced by the
   stories' links, and ``plan.copies`` removed from `articles` with their annotations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pipelines.config import DedupConfig
from pipelines.dedup.signatures import (
    DedupEntry,
    band_keys,
    estimated_jaccard,
    shares_band,
    similarity,
)

Method = Literal["url", "exact", "minhash"]
OrderKey = tuple[datetime, str]
METHOD_RANK: dict[Method, int] = {"url": 0, "exact": 1, "minhash": 2}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored entry the store's lookup returned, with the story (canonical article_id) it belongs to now."""

    entry: DedupEntry
    story_id: str


@dataclass(frozen=True, slots=True)
class Match:
    """A verified relation between a new entry and a stored article."""

    story_id: str
    article_id: str
    method: Method
    similarity: float


@dataclass(frozen=True, slots=True)
class Link:
    """One `article_duplicates` row: `article_id` is a copy of the canonical `story_id`."""

    article_id: str
    story_id: str
    method: Method
    similarity: float


@dataclass(frozen=True, slots=True)
class Story:
    """A resolved story: its canonical article and one link per other article, sorted by article_id."""

    story_id: str
    links: tuple[Link, ...]


def relation(a: DedupEntry, b: DedupEntry, cfg: DedupConfig) -> tuple[Method, float] | None:
    """How two entries are the same story, if they are; symmetric, and a function of the pair alone."""
    if a.article_id == b.article_id:
        return "url", similarity(a, b)
    if a.fingerprint is not None and a.fingerprint == b.fingerprint:
        return "exact", 1.0
    if a.signature and b.signature and shares_band(a.signature, b.signature, cfg):
        score = estimated_jaccard(a.signature, b.signature)
        if score >= cfg.threshold:
            return "minhash", score
    return None


def find_matches(entry: DedupEntry, candidates: Iterable[Candidate], cfg: DedupConfig) -> tuple[Match, ...]:
    """Verify the store's candidates; best first (url, exact, then higher similarity). Empty: a new story."""
    found = []
    for candidate in candidates:
        related = relation(entry, candidate.entry, cfg)
        if related is not None:
            found.append(Match(candidate.story_id, candidate.entry.article_id, related[0], related[1]))
    return tuple(sorted(found, key=lambda m: (METHOD_RANK[m.method], -m.similarity, m.story_id, m.article_id)))


# --- stories -----------------------------------------------------------------------------------


def article_order_key(entries: Iterable[DedupEntry]) -> OrderKey:
    """(earliest seen_at, article_id) of one article's entries: the canonical is the smallest."""
    return min((entry.seen_at, entry.article_id) for entry in entries)


def link_to_canonical(copy: Sequence[DedupEntry], canonical: Sequence[DedupEntry]) -> Link:
    """The duplicate row of one article: 'exact' if it shares a body with the canonical, else 'minhash'
    with the best similarity between their versions (below the threshold when joined through a chain)."""
    exact = any(a.fingerprint is not None and a.fingerprint == b.fingerprint for a in copy for b in canonical)
    score = 1.0 if exact else max(similarity(a, b) for a in copy for b in canonical)
    return Link(copy[0].article_id, canonical[0].article_id, "exact" if exact else "minhash", score)


def resolve_story(entries: Iterable[DedupEntry]) -> Story:
    """Canonical article and all links of one story from all its entries: a pure function of the set."""
    by_article: dict[str, list[DedupEntry]] = defaultdict(list)
    for entry in entries:
        by_article[entry.article_id].append(entry)
    if not by_article:
        raise ValueError("a story needs at least one entry")
    story_id = min(by_article, key=lambda article_id: article_order_key(by_article[article_id]))
    links = tuple(
        link_to_canonical(by_article[article_id], by_article[story_id])
        for article_id in sorted(by_article)
        if article_id != story_id
    )
    return Story(story_id, links)


class EntryIndex:
    """The current batch's entries, indexed the way `store` indexes stored ones (article_id, fingerprint,
    band hash), with their stories: a batch's history candidates come from one SQL join, and copies
    inside the batch from here, so both are found alike. Memory is bounded by the batch."""

    def __init__(self, cfg: DedupConfig) -> None:
        self.cfg = cfg
        self._entries: list[DedupEntry] = []
        self._keys: dict[object, list[int]] = defaultdict(list)
        self.story_of: dict[str, str] = {}

    def add(self, entry: DedupEntry, story_id: str) -> None:
        self._keys[("article", entry.article_id)].append(len(self._entries))
        if entry.fingerprint is not None:
            self._keys[("fingerprint", entry.fingerprint)].append(len(self._entries))
        for _, band_hash in band_keys(entry.signature, self.cfg):
            self._keys[("band", band_hash)].append(len(self._entries))
        self._entries.append(entry)
        self.story_of[entry.article_id] = story_id

    def candidates(self, entry: DedupEntry) -> list[Candidate]:
        """Indexed entries sharing the article, the fingerprint or a band with `entry`, in insertion order."""
        keys: list[tuple[str, object]] = [("article", entry.article_id), ("fingerprint", entry.fingerprint)]
        keys += [("band", band_hash) for _, band_hash in band_keys(entry.signature, self.cfg)]
        found = sorted({index for key in keys for index in self._keys.get(key, ())})
        return [Candidate(self._entries[i], self.story_of[self._entries[i].article_id]) for i in found]

    def current(self, candidates: Iterable[Candidate]) -> list[Candidate]:
        """Candidates fetched before the batch ran, with the story they belong to now: an entry earlier
        in the batch may have merged their story (callers record every re-pointed article in story_of)."""
        return [Candidate(c.entry, self.story_of.get(c.entry.article_id, c.story_id)) for c in candidates]


# --- a batch into stories ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoryPlan:
    """What one batch changes in the story tables: every story it touched, as resolved at the end of the batch."""

    stories: tuple[Story, ...]

    @property
    def canonical(self) -> set[str]:
        return {story.story_id for story in self.stories}

    @property
    def copies(self) -> dict[str, Story]:
        """Each non-canonical article of a touched story, with its story: it leaves `articles`."""
        return {link.article_id: story for story in self.stories for link in story.links}

    def story_of(self) -> dict[str, str]:
        """Every article of the touched stories, sorted, with the story it belongs to now."""
        copies = self.copies
        return {
            article_id: copies[article_id].story_id if article_id in copies else article_id
            for article_id in sorted(self.canonical | set(copies))
        }


def plan_stories(
    entries: Iterable[DedupEntry],
    history: Sequence[Candidate],
    stored_members: Callable[[str], Sequence[DedupEntry]],
    cfg: DedupConfig,
) -> StoryPlan:
    """Put a batch's entries into stories one after another (steps 3-4 of the protocol above).

    `history` holds the stored candidates of the whole batch, fetched before it runs;
    `stored_members(story_id)` returns the stored entries of a story this batch has not touched yet.
    """
    index = EntryIndex(cfg)
    touched: dict[str, Story] = {}
    members_of: dict[str, list[DedupEntry]] = {}  # every entry, stored or new, of the stories touched so far
    for entry in sorted(entries, key=lambda e: e.article_id):
        matches = find_matches(entry, [*index.current(history), *index.candidates(entry)], cfg)
        members = [
            member
            for story_id in sorted({match.story_id for match in matches})
            for member in (members_of.pop(story_id, None) or stored_members(story_id))
        ]
        story = resolve_story([*members, entry])
        for match in matches:
            touched.pop(match.story_id, None)
        touched[story.story_id] = story
        members_of[story.story_id] = [*members, entry]
        index.add(entry, story.story_id)
        for member in members:
            index.story_of[member.article_id] = story.story_id
    return StoryPlan(tuple(touched.values()))
