"""Dedup throughput and peak memory on a synthetic corpus, against a real DuckDB file.

The corpus is shingled real text: sentences of the seed articles, recombined per article and with
about one word in SUBSTITUTION_EVERY replaced from the seeds' vocabulary, so every article has its own
shingles. A known share are copies of a recent article (exact, or near: a sentence dropped, a
boilerplate line added, a few words changed), some dated before their original so canonicals switch.

Per batch, as the load does (pipelines.storage.load): sketch the batch (make_entry), fetch history
candidates with one SQL join on the band and fingerprint tables, verify candidates one entry after
another (copies within the batch come from an EntryIndex of the batch), then append signatures,
bands and stories.
Entries that would make `plan_stories` run resolve_story (an earlier copy, or a bridge between stories)
are counted, not resolved: that costs O(story size), not O(history).
Each size runs in its own process, so peak RSS (DuckDB included) is per size; the corpus is
generated batch by batch, so it does not count. Phases are timed in process CPU seconds (DuckDB's
threads included), which a busy shared machine distorts far less than wall time.

    .venv/bin/python bench/bench_dedup.py                    # 10k and 100k
    .venv/bin/python bench/bench_dedup.py --sizes 2000 --batch 500

Prints one JSON line per size and writes them to bench/out/dedup.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from pipelines.config import DedupConfig
from pipelines.dedup.signatures import DedupEntry, band_keys, make_entry
from pipelines.dedup.stories import Candidate, EntryIndex, Match, find_matches

SEEDS_DIR = PROJECT_ROOT / "seeds"
OUT = PROJECT_ROOT / "bench" / "out" / "dedup.json"
DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_BATCH = 2_000
DUPLICATE_SHARE = 0.2
EXACT_SHARE_OF_DUPLICATES = 0.25
RECENT_ORIGINALS = 2_000
SENTENCES_PER_ARTICLE = (8, 30)
SUBSTITUTION_EVERY = 6
NEAR_COPY_SUBSTITUTION_EVERY = 100
TIME_JITTER_MINUTES = 240
START = datetime(2024, 1, 1, tzinfo=UTC)
COPY_BOILERPLATE = "This story was provided by a wire service and republished with permission."
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

# The tables this bench proposes for schemas/ (store owns the real DDL).
DDL = (
    """CREATE TABLE article_signatures (
        article_id  VARCHAR NOT NULL,
        raw_id      VARCHAR NOT NULL,
        fingerprint VARCHAR,
        signature   UBIGINT[],
        seen_at     TIMESTAMPTZ NOT NULL
    )""",
    "CREATE TABLE dedup_bands (band USMALLINT NOT NULL, band_hash UBIGINT NOT NULL, article_id VARCHAR NOT NULL)",
    "CREATE TABLE article_stories (article_id VARCHAR PRIMARY KEY, story_id VARCHAR NOT NULL)",
)
HISTORY_CANDIDATES_SQL = """
    WITH probe_articles AS (
        SELECT DISTINCT p.pos, b.article_id FROM probe_bands p JOIN dedup_bands b ON b.band_hash = p.band_hash
        UNION
        SELECT DISTINCT p.pos, s.article_id
        FROM probe_fingerprints p JOIN article_signatures s ON s.fingerprint = p.fingerprint
        UNION
        SELECT p.pos, p.article_id FROM probe_fingerprints p
    )
    SELECT pa.pos, s.article_id, s.fingerprint, s.signature, s.seen_at, st.story_id
    FROM probe_articles pa
    JOIN article_signatures s ON s.article_id = pa.article_id
    JOIN article_stories st ON st.article_id = s.article_id
"""


@dataclass(frozen=True, slots=True)
class SyntheticArticle:
    article_id: str
    text: str
    seen_at: datetime
    copy_of: str | None


def seed_sentences(seeds_dir: Path) -> list[list[str]]:
    sentences = []
    for path in sorted(seeds_dir.glob("*.txt")):
        sentences += [s.split() for s in _SENTENCE_END.split(" ".join(path.read_text(encoding="utf-8").split()))]
    return [s for s in sentences if len(s) >= 4]


def _substitute(words: list[str], every: int, vocabulary: list[str], rng: np.random.Generator) -> list[str]:
    out = list(words)
    for index in np.flatnonzero(rng.random(len(out)) < 1 / every):
        out[index] = vocabulary[rng.integers(len(vocabulary))]
    return out


def synthetic_corpus(size: int, seed: int = 0) -> Iterator[SyntheticArticle]:
    """`size` articles, DUPLICATE_SHARE of them copies of one of the RECENT_ORIGINALS latest originals."""
    sentences = seed_sentences(SEEDS_DIR)
    vocabulary = sorted({word for sentence in sentences for word in sentence})
    rng, pyrng = np.random.default_rng(seed), random.Random(seed)
    recent: list[tuple[str, list[str]]] = []
    for number in range(size):
        seen_at = START + timedelta(minutes=number + pyrng.randint(-TIME_JITTER_MINUTES, TIME_JITTER_MINUTES))
        article_id = f"a{number:07d}"
        if recent and pyrng.random() < DUPLICATE_SHARE:
            original_id, original = pyrng.choice(recent)
            if pyrng.random() < EXACT_SHARE_OF_DUPLICATES:
                yield SyntheticArticle(article_id, "\n\n".join(original).upper(), seen_at, original_id)
                continue
            kept = [s for i, s in enumerate(original) if i != pyrng.randrange(len(original))]
            changed = [" ".join(_substitute(s.split(), NEAR_COPY_SUBSTITUTION_EVERY, vocabulary, rng)) for s in kept]
            yield SyntheticArticle(article_id, "\n\n".join([*changed, COPY_BOILERPLATE]), seen_at, original_id)
            continue
        count = pyrng.randint(*SENTENCES_PER_ARTICLE)
        picked = [pyrng.choice(sentences) for _ in range(count)]
        body = [" ".join(_substitute(sentence, SUBSTITUTION_EVERY, vocabulary, rng)) for sentence in picked]
        recent = [*recent[-(RECENT_ORIGINALS - 1) :], (article_id, body)]
        yield SyntheticArticle(article_id, "\n\n".join(body), seen_at, None)


def _history_candidates(
    con: duckdb.DuckDBPyConnection, entries: list[DedupEntry], cfg: DedupConfig
) -> dict[int, list[Candidate]]:
    """One join for the whole batch: stored entries sharing a band, the fingerprint or the article."""
    band_rows = [(pos, h) for pos, entry in enumerate(entries) for _, h in band_keys(entry.signature, cfg)]
    probe_bands = pa.table(
        {
            "pos": pa.array([pos for pos, _ in band_rows], pa.int32()),
            "band_hash": pa.array([band_hash for _, band_hash in band_rows], pa.uint64()),
        }
    )
    probe_fingerprints = pa.table(
        {
            "pos": pa.array(range(len(entries)), pa.int32()),
            "fingerprint": pa.array([e.fingerprint for e in entries], pa.string()),
            "article_id": pa.array([e.article_id for e in entries], pa.string()),
        }
    )
    con.register("probe_bands", probe_bands)
    con.register("probe_fingerprints", probe_fingerprints)
    found: dict[int, list[Candidate]] = defaultdict(list)
    for pos, article_id, fingerprint, sig, seen_at, story_id in con.execute(HISTORY_CANDIDATES_SQL).fetchall():
        found[pos].append(Candidate(DedupEntry(article_id, fingerprint, tuple(sig or ()), seen_at), story_id))
    con.unregister("probe_bands")
    con.unregister("probe_fingerprints")
    return found


def _append(
    con: duckdb.DuckDBPyConnection, entries: list[DedupEntry], stories: dict[str, str], cfg: DedupConfig
) -> None:
    signatures = pa.table(
        {
            "article_id": [e.article_id for e in entries],
            "raw_id": [e.article_id for e in entries],
            "fingerprint": pa.array([e.fingerprint for e in entries], pa.string()),
            "signature": pa.array([list(e.signature) or None for e in entries], pa.list_(pa.uint64())),
            "seen_at": pa.array([e.seen_at for e in entries], pa.timestamp("us", tz="UTC")),
        }
    )
    band_rows = [(band, h, e.article_id) for e in entries for band, h in band_keys(e.signature, cfg)]
    bands = pa.table(
        {
            "band": pa.array([b for b, _, _ in band_rows], pa.uint16()),
            "band_hash": pa.array([h for _, h, _ in band_rows], pa.uint64()),
            "article_id": pa.array([a for _, _, a in band_rows], pa.string()),
        }
    )
    story_rows = pa.table({"article_id": list(stories), "story_id": list(stories.values())})
    for table, rows in (("article_signatures", signatures), ("dedup_bands", bands), ("article_stories", story_rows)):
        con.register("arrow_rows", rows)
        con.execute(f"INSERT INTO {table} SELECT * FROM arrow_rows")
        con.unregister("arrow_rows")


def _needs_resolve(entry: DedupEntry, matches: tuple[Match, ...], candidates: list[Candidate]) -> bool:
    """The entry bridges two stories or predates what it matched: the canonical may change."""
    matched = {match.article_id for match in matches}
    earliest = min((c.entry.seen_at for c in candidates if c.entry.article_id in matched), default=None)
    return len({match.story_id for match in matches}) > 1 or (earliest is not None and entry.seen_at < earliest)


def run_size(size: int, batch_size: int, db_path: Path, cfg: DedupConfig) -> dict[str, float]:
    """Process `size` synthetic articles in batches; seconds per phase, counts and peak RSS."""
    timings: dict[str, float] = defaultdict(float)
    planted = linked = planted_found = switches = candidates_seen = 0
    corpus = synthetic_corpus(size)
    con = duckdb.connect(str(db_path))
    con.execute("SET threads = 2")
    for statement in DDL:
        con.execute(statement)
    wall_started = time.perf_counter()
    while True:
        tick = time.process_time()
        batch = list(itertools.islice(corpus, batch_size))
        timings["generate_cpu_s"] += time.process_time() - tick
        if not batch:
            break
        tick = time.process_time()
        entries = [make_entry(a.article_id, a.text, a.seen_at, cfg) for a in batch]
        timings["signature_cpu_s"] += time.process_time() - tick
        tick = time.process_time()
        history = _history_candidates(con, entries, cfg)
        timings["lookup_cpu_s"] += time.process_time() - tick
        tick = time.process_time()
        local = EntryIndex(cfg)
        stories: dict[str, str] = {}
        for pos, (article, entry) in enumerate(zip(batch, entries, strict=True)):
            candidates = [*local.current(history.get(pos, ())), *local.candidates(entry)]
            candidates_seen += len(candidates)
            matches = find_matches(entry, candidates, cfg)
            story_id = matches[0].story_id if matches else entry.article_id
            if _needs_resolve(entry, matches, candidates):
                switches += 1  # here plan_stories resolves the story and the load re-points its links
            stories[entry.article_id] = story_id
            local.add(entry, story_id)
            planted += article.copy_of is not None
            linked += bool(matches)
            planted_found += article.copy_of is not None and bool(matches)
        timings["verify_cpu_s"] += time.process_time() - tick
        tick = time.process_time()
        con.execute("BEGIN")
        _append(con, entries, stories, cfg)
        con.execute("COMMIT")
        timings["insert_cpu_s"] += time.process_time() - tick
    wall = time.perf_counter() - wall_started - timings["generate_cpu_s"]
    con.close()
    dedup_cpu = timings["signature_cpu_s"] + timings["lookup_cpu_s"] + timings["verify_cpu_s"]
    return {
        "articles": size,
        "batch": batch_size,
        **{key: round(value, 2) for key, value in timings.items()},
        "dedup_articles_per_cpu_s": round(size / dedup_cpu),
        "with_insert_articles_per_cpu_s": round(size / (dedup_cpu + timings["insert_cpu_s"])),
        "wall_s_excluding_generation": round(wall, 1),
        "planted_copies": planted,
        "planted_copies_linked": planted_found,
        "linked": linked,
        "canonical_switches": switches,
        "candidates_per_article": round(candidates_seen / size, 2),
        "db_mb": round(db_path.stat().st_size / 2**20, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_size(args.one, args.batch, Path(tmp) / "bench.duckdb", DedupConfig())))
        return
    results = []
    for size in args.sizes:
        child = [sys.executable, __file__, "--one", str(size), "--batch", str(args.batch)]
        results.append(json.loads(subprocess.run(child, capture_output=True, text=True, check=True).stdout))
        print(json.dumps(results[-1]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
