"""Dedup as pure functions: hashing, relations, story resolution, the batch planner, and the eval floor.

The behaviour of stories in the database (an earlier copy becomes canonical, a bridge joins two
stories, order and batching do not matter, seed stories stay apart) is tested through the real load
and DuckDB in test_dedup_store.py.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.config import DedupConfig
from pipelines.dedup.signatures import (
    SIGNATURE_CHUNK,
    DedupEntry,
    band_keys,
    exact_fingerprint,
    make_entry,
    normalize_for_hash,
    signature,
    tokens,
)
from pipelines.dedup.stories import Candidate, plan_stories, relation, resolve_story
from pipelines.evaluation.dedup import (
    eval_pairs,
    evaluate_dedup,
    with_boilerplate,
    with_punctuation_changed,
    with_typos,
)

CFG = DedupConfig()
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
PRECISION_FLOOR = 0.97
RECALL_FLOOR = 0.85


def _seed_texts(seeds_dir: Path) -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in sorted(seeds_dir.glob("*.txt"))]
    assert len(texts) >= 5, f"expected the five seed articles in {seeds_dir}"
    return texts


def _entry(article_id: str, text: str, minutes: int = 0) -> DedupEntry:
    return make_entry(article_id, text, T0 + timedelta(minutes=minutes), CFG)


# --- hashing --------------------------------------------------------------------------------------


def test_exact_fingerprint_ignores_spacing_quotes_case_and_invisible_characters() -> None:
    original = "He said: “It’s not easy” — the problem\u00a0is complicated.\n\nSecond paragraph."
    copy = 'HE SAID: "IT\'S NOT EASY" - THE PROBLEM IS\u200b COMPLICATED. Second   paragraph.'
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
    code = (
        "import sys; from pipelines.config import DedupConfig; from pipelines.dedup.signatures import signature; "
        "print(signature(sys.stdin.read(), DedupConfig()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", code], input=text, capture_output=True, text=True, env=env, check=True
    )
    assert other.stdout.strip() == str(sig)


def test_a_long_text_is_signed_in_chunks_to_the_same_signature(seeds_dir: Path) -> None:
    """Hashed a chunk at a time (bounded memory), the signature is the one a single batch gives."""
    from datasketch import MinHash

    from pipelines.dedup.signatures import MINHASH_SCHEME, shingle_hashes

    words = tokens(normalize_for_hash(" ".join(_seed_texts(seeds_dir))))
    rng = random.Random(7)
    text = " ".join(rng.choice(words) for _ in range(3 * SIGNATURE_CHUNK))
    hashes = shingle_hashes(tokens(normalize_for_hash(text)), CFG.shingle_size)
    assert len(hashes) > 2 * SIGNATURE_CHUNK
    whole = MinHash(num_perm=CFG.num_perm, seed=CFG.seed, hashfunc=int, scheme=MINHASH_SCHEME)
    whole.update_batch(hashes.tolist())
    assert signature(text, CFG) == tuple(whole.hashvalues.tolist())


@pytest.mark.parametrize(
    "changes",
    [{"bands": 40, "rows": 4}, {"threshold": 0.0}, {"threshold": 1.5}, {"min_tokens": 2}, {"num_perm": 0}],
)
def test_config_rejects_inconsistent_values(changes: dict[str, Any]) -> None:
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


def test_short_pieces_sharing_only_stock_lines_stay_apart() -> None:
    """Bodies after normalize stripped site chrome: a brief each, plus an agency's stock lines."""
    stock = "The Associated Press contributed to this report. Copyright 2024 The Associated Press."
    left = f"The city council approved next year's budget on Tuesday after a six-hour debate.\n\n{stock}"
    right = f"Firefighters contained a blaze near the port on Tuesday night; no one was hurt.\n\n{stock}"
    assert relation(_entry("a", left), _entry("b", right), CFG) is None


# --- stories -------------------------------------------------------------------------------------


def test_ties_on_time_are_broken_by_article_id(seeds_dir: Path) -> None:
    text = _seed_texts(seeds_dir)[2]
    story = resolve_story([_entry("zz", text), _entry("aa", text), _entry("mm", text)])
    assert story.story_id == "aa" and [link.article_id for link in story.links] == ["mm", "zz"]
    assert all(link.method == "exact" and link.similarity == 1.0 for link in story.links)


def test_plan_stories_merges_a_batch_with_stored_stories_fetched_through_the_callback(seeds_dir: Path) -> None:
    text = _seed_texts(seeds_dir)[3]
    stored = _entry("stored", text, minutes=20)
    fetched: list[str] = []

    def stored_members(story_id: str) -> list[DedupEntry]:
        fetched.append(story_id)
        return [stored]

    batch = [
        _entry("late", with_punctuation_changed(text), 40),
        _entry("early", text.upper(), 0),
        _entry("other", _seed_texts(seeds_dir)[0], 10),
    ]
    plan = plan_stories(batch, [Candidate(stored, "stored")], stored_members, CFG)
    assert fetched == ["stored"]  # once: the merged story's members are kept for the rest of the batch
    assert plan.canonical == {"early", "other"}
    assert set(plan.copies) == {"late", "stored"}
    assert plan.story_of() == {"early": "early", "late": "early", "other": "other", "stored": "early"}


# --- evaluation ----------------------------------------------------------------------------------


def test_precision_and_recall_on_labelled_real_text_pairs(shared_dir: Path) -> None:
    scores = evaluate_dedup(CFG, eval_pairs(shared_dir))
    assert scores.precision >= PRECISION_FLOOR, scores
    assert scores.recall >= RECALL_FLOOR, scores
    assert scores.per_kind["seed_pair"] == (0, 10)
