"""Deduplication through the real load and DuckDB: seeds stay apart, copies are recorded, an earlier copy
becomes canonical, a bridge joins two stories, and order and batching do not matter.

`LoadedStore` loads pieces of text (article id, body, minutes after T0) as staged rows through
`pipelines.storage.load.load_batch` into a temporary DuckDB file, one transaction per batch, and reads
the story tables back; the folder tests below go through `ingest_folder` from the files up.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from quality_batches import PASSED
from table_snapshot import scalar

from pipelines.config import PROJECT_ROOT, DedupConfig, Settings
from pipelines.dedup.signatures import (
    DedupEntry,
    estimated_jaccard,
    make_entry,
    signature,
)
from pipelines.dedup.stories import relation
from pipelines.evaluation.dedup import (
    BOILERPLATE_FOOTERS,
    BOILERPLATE_HEADERS,
    paragraphs,
    sentences,
    with_boilerplate,
    with_paragraph_dropped,
    with_punctuation_changed,
    with_typos,
)
from pipelines.ids import sha256_hex, stable_id
from pipelines.pipeline import ingest_folder
from pipelines.records import ArticleRow, RawDocument, Source, Status
from pipelines.storage.load import load_batch
from pipelines.storage.staging import Manifest
from pipelines.storage.store import Store
from pipelines.tables import STAGED_TABLES

BASE_TIME = datetime(2016, 12, 1, 8, 0, tzinfo=UTC)
CFG = DedupConfig()
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SHUFFLES = 6
SOURCE = Source("src-test", "folder", "test://pieces", "pieces")


@dataclass(frozen=True, slots=True)
class Piece:
    """One input: a body version of `article_id`, published `minutes` after T0."""

    article_id: str
    text: str
    minutes: int = 0

    @property
    def seen_at(self) -> datetime:
        return T0 + timedelta(minutes=self.minutes)

    @property
    def raw_id(self) -> str:
        return stable_id("raw", self.article_id, str(self.minutes), self.text)


def _staged_rows(pieces: Sequence[Piece]) -> dict[str, list[dict[str, object]]]:
    """The rows a stage holds for these pieces: one source, one raw document and one article each."""
    raws = [
        RawDocument(
            p.raw_id,
            SOURCE.source_id,
            f"{p.article_id}.txt",
            p.seen_at,
            sha256_hex(p.text),
            len(p.text),
            "text/plain",
            Status.LOADED,
        )
        for p in pieces
    ]
    articles: list[dict[str, object]] = [
        {
            **{field.name: None for field in fields(ArticleRow)},
            "article_id": p.article_id,
            "raw_id": p.raw_id,
            "source_id": SOURCE.source_id,
            "item_key": p.article_id,
            "uri": f"{p.article_id}.txt",
            "title_missing": True,
            "authors": [],
            "published_at": p.seen_at,
            "language": "en",
            "language_confidence": 1.0,
            "languages": ["en"],
            "mixed_language": False,
            "body_text": p.text,
            "word_count": len(p.text.split()),
            "content_hash": sha256_hex(p.text),
            "fetched_at": p.seen_at,
            "extractor": "plain",
            "flags": [],
        }
        for p in pieces
    ]
    rows: dict[str, list[dict[str, object]]] = {table: [] for table in STAGED_TABLES}
    rows.update(sources=[asdict(SOURCE)], raw_documents=[asdict(raw) for raw in raws], articles=articles)
    return rows


class LoadedStore:
    """A DuckDB file the pieces are loaded into through the real load, batch by batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batches = 0

    def ingest_batch(self, pieces: Sequence[Piece]) -> None:
        self.batches += 1
        manifest = Manifest(f"run{self.batches}", "test", T0, SOURCE.uri)
        with Store.open(self.path, PROJECT_ROOT / "schemas") as store:
            load_batch(store, Settings(dedup=CFG), manifest, _staged_rows(pieces), {}, PASSED)

    def ingest(self, piece: Piece) -> None:
        self.ingest_batch([piece])

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def articles(self) -> frozenset[str]:
        """The canonical articles: one `articles` row per story."""
        return frozenset(article_id for (article_id,) in self._rows("SELECT article_id FROM articles"))

    def duplicates(self) -> frozenset[tuple[str, str, str, float]]:
        """(copy, canonical, method, similarity) of every `article_duplicates` row."""
        rows = self._rows("SELECT duplicate_article_id, article_id, method, similarity FROM article_duplicates")
        return frozenset((copy, story, method, round(score, 9)) for copy, story, method, score in rows)


def _new_store(tmp_path: Path) -> LoadedStore:
    folder = tmp_path / f"store{len(list(tmp_path.glob('store*')))}"
    folder.mkdir()
    return LoadedStore(folder / "news.duckdb")


def _seed_texts(seeds_dir: Path) -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in sorted(seeds_dir.glob("*.txt"))]
    assert len(texts) >= 5, f"expected the five seed articles in {seeds_dir}"
    return texts


def _entry(piece: Piece) -> DedupEntry:
    return make_entry(piece.article_id, piece.text, piece.seen_at, CFG)


def test_seed_articles_stay_apart_including_two_reports_of_one_meeting(tmp_path: Path, seeds_dir: Path) -> None:
    store = _new_store(tmp_path)
    store.ingest_batch([Piece(f"seed{i}", text) for i, text in enumerate(_seed_texts(seeds_dir))])
    assert len(store.articles()) == 5 and not store.duplicates()
    moscow_a, moscow_b = _seed_texts(seeds_dir)[0], _seed_texts(seeds_dir)[4]
    assert estimated_jaccard(signature(moscow_a, CFG), signature(moscow_b, CFG)) < 0.1


def test_an_earlier_copy_becomes_canonical_and_links_are_repointed(tmp_path: Path, seeds_dir: Path) -> None:
    text = _seed_texts(seeds_dir)[1]
    store = _new_store(tmp_path)
    store.ingest(Piece("late", text, minutes=30))
    store.ingest(Piece("later", with_punctuation_changed(text), minutes=60))
    assert store.articles() == {"late"}
    store.ingest(Piece("early", with_boilerplate(text, random.Random(0)), minutes=0))
    assert store.articles() == {"early"}
    assert {(a, s) for a, s, _, _ in store.duplicates()} == {("late", "early"), ("later", "early")}


def _chain(seeds_dir: Path) -> tuple[str, str, str]:
    """A ~ B and B ~ C but A !~ C: three overlapping windows of one long run of sentences."""
    units = [sentence for text in _seed_texts(seeds_dir) for sentence in sentences(" ".join(paragraphs(text)))]
    width, shift = 80, 15
    first, second, third = (" ".join(units[start : start + width]) for start in (0, shift, 2 * shift))
    return first, second, third


def test_a_bridging_copy_joins_two_stories_into_one(tmp_path: Path, seeds_dir: Path) -> None:
    a, b, c = _chain(seeds_dir)
    pa_, pb, pc = Piece("a", a, 5), Piece("b", b, 10), Piece("c", c, 0)
    ea, eb, ec = _entry(pa_), _entry(pb), _entry(pc)
    assert relation(ea, eb, CFG) and relation(eb, ec, CFG) and relation(ea, ec, CFG) is None
    store = _new_store(tmp_path)
    store.ingest_batch([pa_, pc])
    assert store.articles() == {"a", "c"}
    store.ingest(pb)
    assert store.articles() == {"c"} and {d[0] for d in store.duplicates()} == {"a", "b"}


def _pieces(seeds_dir: Path) -> tuple[list[Piece], int]:
    """Pieces of known stories (copies, versions, near-duplicates, a chain, short briefs) and their count."""
    rng = random.Random(7)
    pieces: list[Piece] = []
    texts = _seed_texts(seeds_dir)
    for number, text in enumerate(texts):
        base = f"s{number}"
        minute = rng.randrange(0, 600, 30)  # coarse times, so ties happen
        pieces += [
            Piece(f"{base}-wire", text, minute),
            Piece(f"{base}-wire", text, minute + 5),  # re-poll of the same URL
            Piece(f"{base}-wire", with_paragraph_dropped(text, rng), minute + 90),  # a new version
            Piece(f"{base}-copy", "\n\n".join(paragraphs(text)).upper(), rng.randrange(0, 600, 30)),
            Piece(f"{base}-site1", with_boilerplate(text, rng), rng.randrange(0, 600, 30)),
            Piece(f"{base}-site2", with_typos(with_punctuation_changed(text), rng), rng.randrange(0, 600, 30)),
        ]
    a, b, c = _chain(seeds_dir)
    pieces += [Piece("chain-a", a, 40), Piece("chain-b", b, 40), Piece("chain-c", c, 10)]
    template = (BOILERPLATE_HEADERS[1], BOILERPLATE_FOOTERS[0])
    for number, text in enumerate(texts):
        brief = " ".join(text.split()[:25])
        pieces.append(Piece(f"brief{number}", f"{template[0]}\n\n{brief}\n\n{template[1]}", 0))
    return pieces, len(texts) + 1 + len(texts)


@pytest.mark.slow
def test_same_inputs_in_any_order_and_batches_give_the_same_tables(tmp_path: Path, seeds_dir: Path) -> None:
    pieces, stories = _pieces(seeds_dir)
    reference = _new_store(tmp_path)
    reference.ingest_batch(pieces)
    assert len(reference.articles()) == stories
    copies = [row[0] for row in reference.duplicates()]
    assert sorted(copies) == sorted({piece.article_id for piece in pieces} - reference.articles()), (
        "every non-canonical article has exactly one duplicate row"
    )
    rng = random.Random(11)
    for _ in range(SHUFFLES):
        shuffled = rng.sample(pieces, len(pieces))
        cuts = sorted(rng.sample(range(1, len(shuffled)), rng.randint(1, 6)))
        store = _new_store(tmp_path)
        for start, end in zip([0, *cuts], [*cuts, len(shuffled)], strict=True):
            store.ingest_batch(shuffled[start:end])
        assert store.articles() == reference.articles()
        assert store.duplicates() == reference.duplicates()


# --- through the folder pipeline -----------------------------------------------------------------


def _settings(folder: Path, db: Path) -> Settings:
    return Settings.from_env(seeds_dir=folder, db_path=db, staging_dir=db.parent / "staging")


def _tables(db: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    articles = con.execute("SELECT article_id, title FROM articles ORDER BY ALL").fetchall()
    duplicates = con.execute("SELECT article_id, duplicate_article_id FROM article_duplicates ORDER BY ALL").fetchall()
    con.close()
    return articles, duplicates


@pytest.mark.slow
def test_seeds_stay_apart_and_a_retitled_copy_is_recorded(tmp_path: Path, seeds_dir: Path) -> None:
    folder = tmp_path / "seeds"
    shutil.copytree(seeds_dir, folder)
    db = tmp_path / "news.duckdb"
    ingest_folder(_settings(folder, db))
    ingest_folder(_settings(folder, db))
    articles, duplicates = _tables(db)
    assert len(articles) == 5 and duplicates == []  # 000 and 004 cover the same meeting: still two stories

    original = next(folder.glob("004_*.txt")).read_text()
    copy = original.replace("• Kyodo", "• Japan Wire Service").replace(
        "Foreign Minister Fumio Kishida and", "Japan's Foreign Minister Fumio Kishida and"
    )
    (folder / "zz_copy.txt").write_text("Kishida and Lavrov agree to keep talking on treaty\n\n" + copy)
    counts = ingest_folder(_settings(folder, db))
    assert counts.articles_new == 1  # a new input, recognised as a copy
    articles, duplicates = _tables(db)
    assert len(articles) == 5
    assert len(duplicates) == 1
    assert con_value(db, "SELECT method FROM article_duplicates") == "minhash"
    con = duckdb.connect(str(db), read_only=True)
    uri = con.execute(
        "SELECT r.uri FROM article_duplicates d JOIN raw_documents r ON r.raw_id = d.duplicate_raw_id"
    ).fetchone()
    assert uri == ("zz_copy.txt",)
    con.close()


def con_value(db: Path, sql: str) -> object:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return scalar(con.execute(sql))
    finally:
        con.close()


def _corpus(seeds_dir: Path) -> list[dict[str, object]]:
    """Each seed as published, plus copies: retitled, re-wrapped in boilerplate, with a paragraph dropped;
    some copies predate their original, so the canonical must move when they arrive."""
    items: list[dict[str, object]] = []
    for index, path in enumerate(sorted(seeds_dir.glob("*.txt"))):
        paragraphs = [p for p in path.read_text().split("\n") if len(p.split()) > 8]
        body = "\n\n".join(paragraphs)
        published = BASE_TIME + timedelta(hours=index)
        items.append(
            {
                "url": f"https://wire.example/{index}",
                "title": f"Story {index}",
                "body": body,
                "published_at": published.isoformat(),
            }
        )
        items.append(
            {
                "url": f"https://paper.example/a/{index}",
                "title": f"Paper headline {index}",
                "body": "Subscribe to our morning briefing.\n\n" + body,
                "published_at": (published + timedelta(minutes=30)).isoformat(),
            }
        )
        items.append(
            {
                "url": f"https://blog.example/{index}?utm_source=x",
                "title": f"Blog {index}",
                "body": "\n\n".join(paragraphs[:-1]),
                "published_at": (published - timedelta(minutes=5 if index % 2 else -50)).isoformat(),
            }
        )
    return items


@pytest.mark.slow
def test_any_order_and_any_batches_give_the_same_stories(tmp_path: Path, seeds_dir: Path) -> None:
    items = _corpus(seeds_dir)
    results = []
    for trial in range(3):
        rng = random.Random(trial)
        shuffled = items[:]
        rng.shuffle(shuffled)
        cuts = sorted(rng.sample(range(1, len(shuffled)), 2))
        db = tmp_path / f"trial{trial}" / "news.duckdb"
        for number, batch in enumerate(zip([0, *cuts], [*cuts, len(shuffled)], strict=True)):
            folder = tmp_path / f"trial{trial}" / f"batch{number}"
            folder.mkdir(parents=True)
            (folder / "items.jsonl").write_text("\n".join(json.dumps(item) for item in shuffled[batch[0] : batch[1]]))
            ingest_folder(_settings(folder, db))
        results.append(_tables(db))
    articles, duplicates = results[0]
    assert len(articles) == 5 and len(duplicates) == 10
    assert all(result == results[0] for result in results[1:])
