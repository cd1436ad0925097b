"""Deduplication: one story per set of copies, decided by pure functions; the load only reads and writes.

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

The load (pipelines.storage.load), one transaction per batch, entries one after another in any order
(so copies within the batch and copies of history are treated alike):
1. ``entry = make_entry(article_id, body_text, seen_at, cfg)`` for each new body version (pure);
2. history candidates: stored entries with the same article_id, the same fingerprint, or one of
   ``band_hashes(entries, cfg)``, each with its story's current story_id: one join of the batch
   against `dedup_bands` / `article_signatures`, read by `Store.dedup_candidates`;
3. ``plan = plan_stories(entries, history, stored_members, cfg)`` (pure but for the callback
   ``stored_members(story_id)``, `Store.story_entries`): per entry, ``find_matches`` against the
   history (``EntryIndex.current``) and the batch so far (``EntryIndex.candidates``); no match
   starts a story (story_id = article_id, no link), else ``resolve_story`` over every entry of the
   matched stories and the new one;
4. the load writes the plan: each entry's signature and band rows, `article_stories` for every
   article of a touched story (``plan.story_of()``), their `article_duplicates` rows replaced by the
   stories' links, and ``plan.copies`` removed from `articles` with their annotations.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

import numpy as np

from pipelines.ids import sha256_hex

Method = Literal["url", "exact", "minhash"]
OrderKey = tuple[datetime, str]
Signature = tuple[int, ...]

# Bump when tokenization, shingle hashing or band hashing change: stored signatures become invalid.
SIGNATURE_SCHEME = "nf1-crc32poly-affine32-blake2b8band"
MINHASH_SCHEME = "affine32"
BAND_HASH_BYTES = 8
UINT64_BYTES = 8
# Shingle hashes given to datasketch at a time: it permutes a batch as one (hashes x num_perm) uint64 matrix,
# several copies of it at once, so a 10 MB text of distinct words in one batch took 2 GB; in chunks, 8 MB each.
SIGNATURE_CHUNK = 8_192
# Odd 64-bit multiplier of the polynomial shingle hash (the golden-ratio constant); wraps mod 2**64.
SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
LOW_32_BITS = np.uint64(0xFFFFFFFF)
METHOD_RANK: dict[Method, int] = {"url": 0, "exact": 1, "minhash": 2}

# Curly quotes, primes and dash variants that differ between copies of one text, and invisible
# characters (regexes: str.translate with a mapping is ten times slower on long texts).
_CHAR_CLASSES = (
    (re.compile("[‘’‚‛′`´]"), "'"),
    (re.compile("[“”„‟″«»]"), '"'),
    (re.compile("[‐‑‒–—―−]"), "-"),
    (re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]"), ""),
)
# Scripts written without spaces between words: every character is a token.
_NO_SPACE_SCRIPTS = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NO_SPACE_CHAR = re.compile(f"[{_NO_SPACE_SCRIPTS}]")
# A word: letters and digits plus the combining marks of spaced scripts (Cyrillic, Hebrew, Arabic,
# Indic), which `\w` alone would split words at; punctuation and symbols separate tokens.
_WORD = re.compile(
    "[\\w\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u0900-\u0963\u0966-\u0dff]+"
)


class SignatureMismatchError(ValueError):
    """Two signatures of different lengths: stored sketches were made with another DedupConfig."""


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """Dedup parameters, built once per run; the defaults were chosen with `eval_dedup.sweep`.

    On the labelled pairs, 5-word shingles at threshold 0.65 gave precision 1.0 with the best recall:
    0.6 merged two short briefs that shared only a site template (estimated J 0.602). Token floors of
    30-80 cost recall without adding precision, since a template is as long as any floor; 20 keeps tiny
    fragments out. LSH: P(candidate | Jaccard s) = 1 - (1 - s**rows)**bands, 0.998 at s = 0.65 for
    32 x 4, so the threshold, not the banding, decides recall; 64 x 2 doubles the band rows for
    nothing, 16 x 8 loses recall.
    """

    num_perm: int = 128
    shingle_size: int = 5
    bands: int = 32
    rows: int = 4
    threshold: float = 0.65
    min_tokens: int = 20
    seed: int = 1

    def __post_init__(self) -> None:
        if self.num_perm < 1 or self.shingle_size < 1 or self.bands < 1 or self.rows < 1:
            raise ValueError("num_perm, shingle_size, bands and rows must be positive")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.min_tokens < self.shingle_size:
            raise ValueError(f"min_tokens ({self.min_tokens}) must be >= shingle_size ({self.shingle_size})")

    @property
    def index_key(self) -> str:
        """Everything stored signatures and bands depend on; `store` keeps it and rebuilds when it changes."""
        return (
            f"{SIGNATURE_SCHEME}:perm={self.num_perm}:seed={self.seed}:k={self.shingle_size}"
            f":bands={self.bands}x{self.rows}:min={self.min_tokens}"
        )


@dataclass(frozen=True, slots=True)
class DedupEntry:
    """One body version of one article; `fingerprint` is None and `signature` empty below `min_tokens`."""

    article_id: str
    fingerprint: str | None
    signature: Signature
    seen_at: datetime


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


# --- text -> fingerprint, tokens, signature ---------------------------------------------------


def normalize_for_hash(text: str) -> str:
    """Text as copies of one body agree on it: NFKC, ASCII quotes and dashes, no invisibles, casefolded, one space."""
    text = unicodedata.normalize("NFKC", text)
    for pattern, replacement in _CHAR_CLASSES:
        text = pattern.sub(replacement, text)
    return " ".join(text.casefold().split())


def exact_fingerprint(text: str) -> str:
    """SHA-256 of the hash-normalized text: equal for exact copies whatever their spacing, quotes or case."""
    return sha256_hex(normalize_for_hash(text))


def tokens(normalized: str) -> list[str]:
    """Words of hash-normalized text, punctuation dropped; characters of scripts without word spaces."""
    return _WORD.findall(_NO_SPACE_CHAR.sub(r" \g<0> ", normalized))


def shingle_hashes(words: Sequence[str], shingle_size: int) -> np.ndarray:
    """Distinct 32-bit hashes of every run of `shingle_size` words (one run if the text is shorter).

    Word hashes are CRC-32 (deterministic across processes, unlike `hash`), combined by a polynomial
    over uint64 so that word order counts; datasketch then mixes them before permuting.
    """
    if not words:
        return np.empty(0, dtype=np.uint64)
    crc = {word: zlib.crc32(word.encode("utf-8")) for word in set(words)}
    word_hashes = np.fromiter(map(crc.__getitem__, words), dtype=np.uint64, count=len(words))
    size = min(shingle_size, len(words))
    count = len(words) - size + 1
    combined = np.zeros(count, dtype=np.uint64)
    for offset in range(size):
        combined = combined * SHINGLE_MULTIPLIER + word_hashes[offset : offset + count]
    return np.unique((combined >> np.uint64(32)) ^ (combined & LOW_32_BITS))


@functools.lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's permutation parameters, drawn once per (num_perm, seed) instead of once per text."""
    return _minhash_class()(num_perm=num_perm, seed=seed, scheme=MINHASH_SCHEME).permutations


def warm_up() -> None:
    """Import datasketch now (for a process that will load, while it has nothing else to do)."""
    _minhash_class()


@functools.cache
def _minhash_class() -> type:
    """Imported on first use: `import datasketch` also loads scipy and redis (seconds), which only the load needs."""
    from datasketch import MinHash

    return MinHash


def _signature_of(words: Sequence[str], cfg: DedupConfig) -> Signature:
    sketch = _minhash_class()(
        num_perm=cfg.num_perm,
        seed=cfg.seed,
        hashfunc=int,
        permutations=_permutations(cfg.num_perm, cfg.seed),
        scheme=MINHASH_SCHEME,
    )
    hashes = shingle_hashes(words, cfg.shingle_size)
    for start in range(0, len(hashes), SIGNATURE_CHUNK):  # the same minimum as one update, in bounded memory
        sketch.update_batch(hashes[start : start + SIGNATURE_CHUNK].tolist())
    return tuple(sketch.hashvalues.tolist())


def signature(text: str, cfg: DedupConfig) -> Signature:
    """MinHash of the text's word shingles: `num_perm` unsigned ints (store: UBIGINT[]); empty for no words."""
    words = tokens(normalize_for_hash(text))
    return _signature_of(words, cfg) if words else ()


def _band_hash(band: int, rows: bytes) -> int:
    """Unsigned 64-bit digest of a band's number and values: unique across bands, so one indexed
    column answers the lookup; fits UBIGINT and is stable across processes and platforms."""
    digest = hashlib.blake2b(band.to_bytes(2, "little") + rows, digest_size=BAND_HASH_BYTES).digest()
    return int.from_bytes(digest, "little")


def band_keys(sig: Signature, cfg: DedupConfig) -> list[tuple[int, int]]:
    """(band number, band hash): two signatures are LSH candidates iff they share a band hash."""
    packed = np.asarray(sig, dtype="<u8").tobytes()
    width = cfg.rows * UINT64_BYTES
    return [(band, _band_hash(band, packed[band * width : (band + 1) * width])) for band in range(cfg.bands)] if sig else []


def band_hashes(entries: Iterable[DedupEntry], cfg: DedupConfig) -> list[int]:
    """Every band hash of a batch, sorted and distinct: the probe of the store's one candidate join."""
    return sorted({band_hash for entry in entries for _, band_hash in band_keys(entry.signature, cfg)})


def as_utc(moment: datetime) -> datetime:
    """Order keys compare instants; a naive time is taken as UTC, as the store keeps TIMESTAMPTZ in UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def make_entry(article_id: str, text: str, seen_at: datetime, cfg: DedupConfig) -> DedupEntry:
    """Everything dedup needs of one body version; `seen_at` is published_at, else the input's fetch time."""
    normalized = normalize_for_hash(text)
    words = tokens(normalized)
    eligible = len(words) >= cfg.min_tokens
    return DedupEntry(
        article_id=article_id,
        fingerprint=sha256_hex(normalized) if eligible else None,
        signature=_signature_of(words, cfg) if eligible else (),
        seen_at=as_utc(seen_at),
    )


# --- pairwise relations ------------------------------------------------------------------------


def estimated_jaccard(a: Signature, b: Signature) -> float:
    """Share of equal MinHash values: an unbiased estimate of the shingle sets' Jaccard similarity."""
    if len(a) != len(b):
        raise SignatureMismatchError(f"signatures of {len(a)} and {len(b)} values")
    return sum(x == y for x, y in zip(a, b)) / len(a)


def shares_band(a: Signature, b: Signature, cfg: DedupConfig) -> bool:
    """The LSH candidate test the store's band join performs, on the signatures themselves."""
    rows = cfg.rows
    return any(a[band * rows : (band + 1) * rows] == b[band * rows : (band + 1) * rows] for band in range(cfg.bands))


def similarity(a: DedupEntry, b: DedupEntry) -> float:
    """1.0 for exact copies, else the estimated Jaccard similarity, 0.0 when either text is too short to sketch."""
    if a.fingerprint is not None and a.fingerprint == b.fingerprint:
        return 1.0
    if a.signature and b.signature:
        return estimated_jaccard(a.signature, b.signature)
    return 0.0


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
        keys = [("article", entry.article_id), ("fingerprint", entry.fingerprint)]
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
        return {article_id: copies[article_id].story_id if article_id in copies else article_id
                for article_id in sorted(self.canonical | set(copies))}


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
        members = [member for story_id in sorted({match.story_id for match in matches})
                   for member in (members_of.pop(story_id, None) or stored_members(story_id))]
        story = resolve_story([*members, entry])
        for match in matches:
            touched.pop(match.story_id, None)
        touched[story.story_id] = story
        members_of[story.story_id] = [*members, entry]
        index.add(entry, story.story_id)
        for member in members:
            index.story_of[member.article_id] = story.story_id
    return StoryPlan(tuple(touched.values()))
