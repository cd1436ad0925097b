"""Dedup's text side: hash-normalized bodies, exact fingerprints, MinHash signatures and their LSH bands.

Pure functions of one body and the `DedupConfig` (pipelines.config); how entries relate and group into
stories is pipelines.dedup.stories. Bodies arrive after pipelines.text.normalize has stripped
boilerplate (schemas/boilerplate.yaml); here they are only hash-normalized (NFKC, quote and dash
variants, invisible characters, case, whitespace). Bodies under `min_tokens` tokens get neither
fingerprint nor signature: fragments (a caption, a "watch the video" stub) would otherwise match on
one stock sentence.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from pipelines.config import DedupConfig
from pipelines.ids import sha256_hex

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
class DedupEntry:
    """One body version of one article; `fingerprint` is None and `signature` empty below `min_tokens`."""

    article_id: str
    fingerprint: str | None
    signature: Signature
    seen_at: datetime


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
    return (
        [(band, _band_hash(band, packed[band * width : (band + 1) * width])) for band in range(cfg.bands)]
        if sig
        else []
    )


def band_hashes(entries: Iterable[DedupEntry], cfg: DedupConfig) -> list[int]:
    """Every band hash of a batch, sorted and distinct: the probe of the store's one candidate join."""
    return sorted({band_hash for entry in entries for _, band_hash in band_keys(entry.signature, cfg)})


def as_utc(moment: datetime) -> datetime:
    """Order keys compare instants; a naive time is taken as UTC, as the store keeps TIMESTAMPTZ in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


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


def index_key(cfg: DedupConfig) -> str:
    """Everything stored signatures and bands depend on; the store keeps it and refuses signatures made otherwise."""
    return (
        f"{SIGNATURE_SCHEME}:perm={cfg.num_perm}:seed={cfg.seed}:k={cfg.shingle_size}"
        f":bands={cfg.bands}x{cfg.rows}:min={cfg.min_tokens}"
    )
