"""Dedup: hashing, relations, story resolution, order independence over a reference store, and the eval floor.

`ReferenceStore` is the in-memory twin of what `store` does in DuckDB (band table joined on
band_hash, fingerprint and article_id lookups, story membership): it lets the order-independence
tests run without the database. They take the store from the `dedup_store` fixture, so the same
tests run against DuckDB by overriding it with anything that has `ingest_batch(entries)`,
`articles()` (story ids) and `duplicates()` ((article_id, story_id, method, similarity) rows).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipelines.dedup import (
    DedupConfig,
    DedupEntry,
    EntryIndex,
    Link,
    band_keys,
    estimated_jaccard,
    exact_fingerprint,
    find_matches,
    make_entry,
    normalize_for_hash,
    relation,
    resolve_story,
    signature,
    tokens,
)
from pipelines.evaluation.dedup import (
    BOILERPLATE_FOOTERS,
    BOILERPLATE_HEADERS,
    eval_pairs,
    evaluate_dedup,
    paragraphs,
    sentences,
    with_boilerplate,
    with_paragraph_dropped,
    with_punctuation_changed,
    with_typos,
)

CFG = DedupConfig()
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
PRECISION_FLOOR = 0.97
RECALL_FLOOR = 0.85
SHUFFLES = 6


class ReferenceStore:
    """The store protocol over dicts: `history` stands for the committed tables, and a batch sees it only
    through candidates fetched before the batch runs (the one SQL join), as the DuckDB store does."""

    def __init__(self, cfg: DedupConfig) -> None:
        self.cfg = cfg
        self.history = EntryIndex(cfg)
        self.members: dict[str, set[str]] = defaultdict(set)
        self.links: dict[str, Link] = {}

    def ingest_batch(self, entries: Sequence[DedupEntry]) -> None:
        """One transaction: prefetch history candidates, then each entry in input order, then commit."""
        fetched = [self.history.candidates(entry) for entry in entries]
        batch = EntryIndex(self.cfg)
        for entry, history_candidates in zip(entries, fetched, strict=True):
            candidates = [*batch.current(history_candidates), *batch.candidates(entry)]
            stories = {match.story_id for match in find_matches(entry, candidates, self.cfg)}
            articles = {article for story in stories for article in self.members.pop(story, set())} | {entry.article_id}
            story = resolve_story([*self.history.entries_of(articles), *batch.entries_of(articles), entry])
            for article in articles:
                batch.story_of[article] = story.story_id
                self.links.pop(article, None)
            self.members[story.story_id] = articles
            self.links.update({link.article_id: link for link in story.links})
            batch.add(entry, story.story_id)
        for entry in batch.entries_of(batch.story_of):
            self.history.add(entry, batch.story_of[entry.article_id])
        self.history.story_of.update(batch.story_of)

    def ingest(self, entry: DedupEntry) -> None:
        self.ingest_batch([entry])

    def articles(self) -> frozenset[str]:
        return frozenset(self.members)

    def duplicates(self) -> frozenset[tuple[str, str, str, float]]:
        return frozenset((l.article_id, l.story_id, l.method, round(l.similarity, 9)) for l in self.links.values())


@pytest.fixture
def dedup_store() -> Callable[[], ReferenceStore]:
    return lambda: ReferenceStore(CFG)


def _seed_texts(seeds_dir: Path) -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in sorted(seeds_dir.glob("*.txt"))]
    assert len(texts) >= 5, f"expected the five seed articles in {seeds_dir}"
    return texts


def _entry(article_id: str, text: str, minutes: int = 0) -> DedupEntry:
    return make_entry(article_id, text, T0 + timedelta(minutes=minutes), CFG)


# --- hashing --------------------------------------------------------------------------------------


def test_exact_fingerprint_ignores_spacing_quotes_case_and_invisible_characters() -> None:
    original = "He said: “It’s not easy” — the problem\u00a0is complicated.\n\nSecond paragraph."
    copy = "HE SAID: \"IT'S NOT EASY\" - THE PROBLEM IS\u200b COMPLICATED. Second   paragraph."
    assert exact_fingerprint(original) == exact_fingerprint(copy)
    assert exact_fingerprint(original) != exact_fingerprint(original.replace("easy", "hard"))


def test_tokens_split_unspaced_scripts_into_characters_and_keep_indic_words_whole() -> None:
    assert tokens(normalize_for_hash("他说：北京。")) == ["他", "说", "北", "京"]
    assert tokens(normalize_for_hash("नमस्ते दुनिया। Don’t stop!")) == ["नमस्ते", "दुनिया", "don", "t", "stop"]


def test_signature_fits_ubigint_and_is_stable_across_processes(seeds_dir: Path) -> None:
    text = _seed_texts(seeds_dir)[0]
    sig = signature(text, CFG)
    assert len(sig) == CFG.num_perm and all(0 <= value < 2**64 for value in sig)
    keys = band_keys(sig, CFG)
    assert [band for band, _ in keys] == list(range(CFG.bands)) and all(0 <= h < 2**64 for _, h in keys)
    code = "import sys; from pipelines.dedup import *; print(signature(sys.stdin.read(), DedupConfig()))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True, text=True, env=env, check=True)
    assert other.stdout.strip() == str(sig)


@pytest.mark.parametrize(
    "changes",
    [{"bands": 40, "rows": 4}, {"threshold": 0.0}, {"threshold": 1.5}, {"min_tokens": 2}, {"num_perm": 0}],
)
def test_config_rejects_inconsistent_values(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        replace(CFG, **changes)


def test_fragments_below_the_token_floor_never_match_by_content() -> None:
    stub = "Watch the video above for the latest updates on this developing story."
    left, right = make_entry("a", stub, T0, CFG), make_entry("b", stub, T0, CFG)
    assert left.fingerprint is None and left.signature == ()
    assert relation(left, right, CFG) is None


# --- relations -----------------------------------------------------------------------------------


def test_relations_url_exact_minhash_and_none(seeds_dir: Path) -> None:
    first, second = _seed_texts(seeds_dir)[:2]
    original = _entry("a", first)
    assert relation(original, _entry("a", second), CFG) == ("url", pytest.approx(0.0, abs=0.05))
    assert relation(original, _entry("b", "  " + first.upper().replace("’", "'")), CFG) == ("exact", 1.0)
    near = relation(original, _entry("c", with_typos(with_boilerplate(first, random.Random(1)), random.Random(2))), CFG)
    assert near is not None and near[0] == "minhash" and CFG.threshold <= near[1] < 1.0
    assert relation(original, _entry("d", second), CFG) is None


def test_seed_articles_stay_apart_including_two_reports_of_one_meeting(
    seeds_dir: Path, dedup_store: Callable[[], ReferenceStore]
) -> None:
    store = dedup_store()
    store.ingest_batch([_entry(f"seed{i}", text) for i, text in enumerate(_seed_texts(seeds_dir))])
    assert len(store.articles()) == 5 and not store.duplicates()
    moscow_a, moscow_b = _seed_texts(seeds_dir)[0], _seed_texts(seeds_dir)[4]
    assert estimated_jaccard(signature(moscow_a, CFG), signature(moscow_b, CFG)) < 0.1


def test_short_pieces_sharing_only_stock_lines_stay_apart() -> None:
    """Bodies after normalize stripped site chrome: a brief each, plus an agency's stock lines."""
    stock = "The Associated Press contributed to this report. Copyright 2024 The Associated Press."
    left = f"The city council approved next year's budget on Tuesday after a six-hour debate.\n\n{stock}"
    right = f"Firefighters contained a blaze near the port on Tuesday night; no one was hurt.\n\n{stock}"
    assert relation(_entry("a", left), _entry("b", right), CFG) is None


# --- stories -------------------------------------------------------------------------------------


def test_an_earlier_copy_becomes_canonical_and_links_are_repointed(
    seeds_dir: Path, dedup_store: Callable[[], ReferenceStore]
) -> None:
    text = _seed_texts(seeds_dir)[1]
    store = dedup_store()
    store.ingest(_entry("late", text, minutes=30))
    store.ingest(_entry("later", with_punctuation_changed(text), minutes=60))
    assert store.articles() == {"late"}
    store.ingest(_entry("early", with_boilerplate(text, random.Random(0)), minutes=0))
    assert store.articles() == {"early"}
    assert {(a, s) for a, s, _, _ in store.duplicates()} == {("late", "early"), ("later", "early")}


def test_ties_on_time_are_broken_by_article_id(seeds_dir: Path) -> None:
    text = _seed_texts(seeds_dir)[2]
    story = resolve_story([_entry("zz", text), _entry("aa", text), _entry("mm", text)])
    assert story.story_id == "aa" and [link.article_id for link in story.links] == ["mm", "zz"]
    assert all(link.method == "exact" and link.similarity == 1.0 for link in story.links)


def _chain(seeds_dir: Path) -> tuple[str, str, str]:
    """A ~ B and B ~ C but A !~ C: three overlapping windows of one long run of sentences."""
    units = [sentence for text in _seed_texts(seeds_dir) for sentence in sentences(" ".join(paragraphs(text)))]
    width, shift = 80, 15
    return tuple(" ".join(units[start : start + width]) for start in (0, shift, 2 * shift))  # type: ignore[return-value]


def test_a_bridging_copy_joins_two_stories_into_one(
    seeds_dir: Path, dedup_store: Callable[[], ReferenceStore]
) -> None:
    a, b, c = _chain(seeds_dir)
    ea, eb, ec = _entry("a", a, 5), _entry("b", b, 10), _entry("c", c, 0)
    assert relation(ea, eb, CFG) and relation(eb, ec, CFG) and relation(ea, ec, CFG) is None
    store = dedup_store()
    store.ingest_batch([ea, ec])
    assert store.articles() == {"a", "c"}
    store.ingest(eb)
    assert store.articles() == {"c"} and {d[0] for d in store.duplicates()} == {"a", "b"}


def _corpus(seeds_dir: Path) -> tuple[list[DedupEntry], int]:
    """Entries of known stories (copies, versions, near-duplicates, a chain, short briefs) and their count."""
    rng = random.Random(7)
    entries: list[DedupEntry] = []
    texts = _seed_texts(seeds_dir)
    for number, text in enumerate(texts):
        base = f"s{number}"
        minute = rng.randrange(0, 600, 30)  # coarse times, so ties happen
        entries += [
            _entry(f"{base}-wire", text, minute),
            _entry(f"{base}-wire", text, minute + 5),  # re-poll of the same URL
            _entry(f"{base}-wire", with_paragraph_dropped(text, rng), minute + 90),  # a new version
            _entry(f"{base}-copy", "\n\n".join(paragraphs(text)).upper(), rng.randrange(0, 600, 30)),
            _entry(f"{base}-site1", with_boilerplate(text, rng), rng.randrange(0, 600, 30)),
            _entry(f"{base}-site2", with_typos(with_punctuation_changed(text), rng), rng.randrange(0, 600, 30)),
        ]
    a, b, c = _chain(seeds_dir)
    entries += [_entry("chain-a", a, 40), _entry("chain-b", b, 40), _entry("chain-c", c, 10)]
    template = (BOILERPLATE_HEADERS[1], BOILERPLATE_FOOTERS[0])
    for number, text in enumerate(texts):
        brief = " ".join(text.split()[:25])
        entries.append(_entry(f"brief{number}", f"{template[0]}\n\n{brief}\n\n{template[1]}", 0))
    return entries, len(texts) + 1 + len(texts)


def test_same_inputs_in_any_order_and_batches_give_the_same_tables(
    seeds_dir: Path, dedup_store: Callable[[], ReferenceStore]
) -> None:
    entries, stories = _corpus(seeds_dir)
    reference = dedup_store()
    reference.ingest_batch(entries)
    assert len(reference.articles()) == stories
    copies = [row[0] for row in reference.duplicates()]
    assert sorted(copies) == sorted({entry.article_id for entry in entries} - reference.articles()), (
        "every non-canonical article has exactly one duplicate row"
    )
    rng = random.Random(11)
    for _ in range(SHUFFLES):
        shuffled = rng.sample(entries, len(entries))
        cuts = sorted(rng.sample(range(1, len(shuffled)), rng.randint(1, 6)))
        batches: Sequence[Sequence[DedupEntry]] = [shuffled[i:j] for i, j in zip([0, *cuts], [*cuts, len(shuffled)])]
        store = dedup_store()
        for batch in batches:
            store.ingest_batch(batch)
        assert store.articles() == reference.articles()
        assert store.duplicates() == reference.duplicates()


# --- evaluation ----------------------------------------------------------------------------------


def test_precision_and_recall_on_labelled_real_text_pairs(shared_dir: Path) -> None:
    scores = evaluate_dedup(CFG, eval_pairs(shared_dir))
    assert scores.precision >= PRECISION_FLOOR, scores
    assert scores.recall >= RECALL_FLOOR, scores
    assert scores.per_kind["seed_pair"] == (0, 10)
