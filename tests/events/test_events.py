"""Events: the pure relation, and the load's events step on a real DuckDB file in any batches and order."""

from __future__ import annotations

import random
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from quality_batches import PASSED

from pipelines.config import DEFAULT_SPACY_MODEL, PROJECT_ROOT, EventConfig, Settings
from pipelines.evaluation.events import bcubed
from pipelines.events.grouping import Candidate, EventEntry, cosine, joined_core, params_key, related
from pipelines.ids import sha256_hex, stable_id
from pipelines.nlp.model import load_pipeline
from pipelines.nlp.terms import participants
from pipelines.pipeline import ingest_folder
from pipelines.records import ArticleRow, RawDocument, Source, Status
from pipelines.storage.event_queries import rebuild_events
from pipelines.storage.load import load_batch
from pipelines.storage.staging import Manifest
from pipelines.storage.store import Store
from pipelines.tables import STAGED_TABLES

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
CFG = EventConfig()
SOURCES = [Source(f"src-{name}", "folder", f"test://{name}", name) for name in ("wire", "daily", "herald")]


def _unit(weights: Sequence[float]) -> tuple[float, ...]:
    norm = sum(w * w for w in weights) ** 0.5
    return tuple(round(w / norm, 6) for w in weights)


def _entry(article_id: str, terms: Sequence[str], hours: float = 0) -> EventEntry:
    return EventEntry(
        article_id, T0 + timedelta(hours=hours), tuple(terms), _unit([len(terms) - i for i in range(len(terms))])
    )


def test_the_relation_is_symmetric_needs_a_shared_heavy_term_and_keeps_to_the_window() -> None:
    a = _entry("a", ["Vinar", "Cook", "climber", "glacier", "fell"])
    b = _entry("b", ["Cook", "Vinar", "climber", "ridge", "brother"], hours=30)
    assert related(a, b, CFG) and related(b, a, CFG)
    late = replace(b, seen_at=a.seen_at + timedelta(days=CFG.window_days, hours=1))
    assert not related(a, late, CFG) and not related(late, a, CFG)
    other = _entry("c", ["Hampton", "Tasman", "climber", "glacier", "helicopter"])
    assert not related(a, other, CFG)  # same kind of happening, other people and places
    assert not related(a, EventEntry("d", a.seen_at), CFG)  # an article with no terms relates to nothing


def test_two_reports_mainly_about_different_people_are_two_events() -> None:
    words = ["Chargers", "DUI", "Diego", "arrested", "Highway", "Patrol", "freeway"]
    jackson = replace(_entry("j", ["Jackson", *words]), principal="jackson", people=frozenset({"jackson", "bae"}))
    williams = replace(
        _entry("w", ["Williams", *words]), principal="williams", people=frozenset({"williams", "jackson"})
    )
    assert cosine(jackson, williams) >= CFG.threshold
    assert not related(jackson, williams, CFG)  # Williams's arrest recalls Jackson's; Jackson's never names him
    about_both = replace(williams, people=frozenset({"williams", "jackson"}), principal="jackson")
    assert related(jackson, about_both, CFG)
    officer = replace(williams, principal="bae", people=frozenset({"bae", "jackson"}))
    assert related(jackson, officer, CFG)  # each names the other's principal person: one arrest


def test_the_principal_person_is_the_one_named_most_often() -> None:
    nlp = load_pipeline(DEFAULT_SPACY_MODEL)
    doc = nlp(
        "Vincent Jackson was arrested on Tuesday. Officer Brad Bae said Jackson was driving east. "
        "Jackson will play on Sunday, coach Norv Turner said."
    )
    assert participants(doc) == ("jackson", ["bae", "jackson", "turner"])
    assert participants(nlp("Brad Bae and Norv Turner spoke."))[0] is None  # nobody named twice


def test_the_stored_key_names_every_parameter_that_changes_groupings() -> None:
    configs = (CFG, EventConfig(threshold=0.4), EventConfig(window_days=5), EventConfig(index_terms=8))
    keys = {params_key(cfg, DEFAULT_SPACY_MODEL) for cfg in configs} | {params_key(CFG, "en_core_web_md")}
    assert len(keys) == 5


def test_an_entry_copied_with_replace_keeps_its_own_vector() -> None:
    entry = _entry("a", ["Vinar", "Cook", "climber"])
    moved = replace(entry, seen_at=entry.seen_at + timedelta(days=1))
    assert cosine(entry, moved) == cosine(entry, entry) == pytest.approx(1.0)
    other = _entry("b", ["Cook", "Vinar", "ridge", "glacier", "brother", "fell"])
    assert cosine(entry, other) == cosine(other, entry)  # to the last bit


# Two cores of two reports each (two climbing accidents) and a lone report that relates to no report on its own
# (every cosine below 0.30) but is nearer the Tasman reports together (0.286) than the Cook ones (0.253).
COOK = (
    ("a1", ("Vinar", "Cook", "climber", "ridge", "rescue", "helicopter", "a11", "a12"), 0),
    ("a2", ("Cook", "Vinar", "ridge", "helicopter", "climber", "rescue", "a21", "a22"), 2),
)
TASMAN = (
    ("b1", ("Tasman", "Zurbriggen", "glacier", "crevasse", "climber", "b12", "b13", "b14"), 1),
    ("b2", ("Zurbriggen", "Tasman", "crevasse", "glacier", "b21", "b22", "b23", "b24"), 3),
)
LONE = ("x", ("x1", "x2", "Tasman", "ridge", "helicopter", "x3", "crevasse", "Cook"), -1)


def test_a_lone_report_joins_the_core_whose_reports_together_are_nearest() -> None:
    cook, tasman = [_entry(*report) for report in COOK], [_entry(*report) for report in TASMAN]
    lone = _entry(*LONE)
    assert not any(related(lone, other, CFG) for other in [*cook, *tasman])
    near = [Candidate(entry, "a1") for entry in cook] + [Candidate(entry, "b1") for entry in tasman]
    assert joined_core([lone], near[:2], CFG) == "a1"
    assert joined_core([lone], near, CFG) == "b1"
    assert joined_core([lone], near[::-1], CFG) == "b1"  # any order of entries
    assert joined_core([lone], near[:2], replace(CFG, join_threshold=0.26)) is None
    far = [replace(c, entry=replace(c.entry, seen_at=c.entry.seen_at + timedelta(days=4))) for c in near[2:]]
    assert joined_core([lone], near[:2] + far, CFG) == "a1"  # reports out of its window do not count
    unrelated = _entry("y", ("Geysers", "Cloverdale", "magnitude", "quake"))
    assert joined_core([unrelated], near, CFG) is None  # no index word in common


def test_bcubed_scores_a_merge_and_a_split() -> None:
    gold = {"a": "x", "b": "x", "c": "y", "d": "y"}
    assert bcubed(gold, gold) == (1.0, 1.0, 1.0)
    merged = bcubed(dict.fromkeys(gold, "one"), gold)
    assert merged[:2] == (0.5, 1.0)
    alone = bcubed({item: item for item in gold}, gold)
    assert alone[:2] == (1.0, 0.5)


# --- the load's events step ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    """One input: an article of `event`, seen `hours` after T0, with its terms (as the stage would give them)."""

    article_id: str
    terms: tuple[str, ...]
    hours: float
    source: int = 0
    body: str | None = None  # the same body as another report makes it a copy (one story)

    @property
    def raw_id(self) -> str:
        return stable_id("raw", self.article_id, str(self.hours))

    @property
    def text(self) -> str:
        return self.body or f"{self.article_id} " + " ".join(f"w{self.article_id}{i}" for i in range(40))


def _reports() -> tuple[list[Report], dict[str, str]]:
    """Three happenings, two of the same kind, one again two weeks later, a copy with no terms; and their gold."""
    rng = random.Random(3)
    generic = ["earthquake", "magnitude", "struck", "residents", "damage", "survey", "officials", "quake"]
    events = {
        "quake-sonoma": ["Geysers", "Cloverdale", "4.4", "Sonoma"],
        "quake-lake": ["Healdsburg", "Cobb", "4.6", "Lake"],
        "arrest-jackson": ["Jackson", "Chargers", "DUI", "Bae"],
    }
    reports, gold = [], {}
    for event, names in events.items():
        for n in range(4):
            words = rng.sample(names, 4) + rng.sample(generic, 3)
            reports.append(Report(f"{event}-{n}", tuple(words), hours=n * 7 + rng.random(), source=n % 3))
            gold[f"{event}-{n}"] = event
    for n in range(2):  # the Sonoma quake's words again, two weeks on: another happening
        reports.append(Report(f"later-{n}", tuple(events["quake-sonoma"] + generic[:3]), hours=24 * 14 + n))
        gold[f"later-{n}"] = "later"
    wire = reports[0]
    reports.append(Report("copy-of-wire", (), hours=2, source=2, body=wire.text))  # the stage read no terms
    gold["copy-of-wire"] = gold[wire.article_id]
    return reports, gold


def _staged(reports: Sequence[Report]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in STAGED_TABLES}
    rows["sources"] = [asdict(source) for source in SOURCES]
    for r in reports:
        seen = T0 + timedelta(hours=r.hours)
        source_id = SOURCES[r.source].source_id
        raw = RawDocument(
            r.raw_id,
            source_id,
            f"{r.article_id}.txt",
            seen,
            sha256_hex(r.text),
            len(r.text),
            "text/plain",
            Status.LOADED,
        )
        rows["raw_documents"].append(asdict(raw))
        rows["articles"].append(
            {
                **{field.name: None for field in fields(ArticleRow)},
                **{"article_id": r.article_id, "raw_id": r.raw_id, "source_id": source_id, "item_key": r.article_id},
                **{"uri": f"{r.article_id}.txt", "title_missing": True, "authors": [], "published_at": seen},
                **{"language": "en", "language_confidence": 1.0, "languages": ["en"], "mixed_language": False},
                **{"body_text": r.text, "word_count": 41, "content_hash": sha256_hex(r.text), "fetched_at": seen},
                **{"extractor": "plain", "flags": []},
            }
        )
        if r.terms:
            weights = _unit([len(r.terms) - i for i in range(len(r.terms))])
            rows["article_terms"].append(
                {"article_id": r.article_id, "raw_id": r.raw_id, "terms": list(r.terms), "weights": list(weights)}
                | {"specifics": sorted({t.lower() for t in r.terms if t[0].isupper()}), "principal": None, "people": []}
            )
    return rows


def _load(db: Path, batches: Sequence[Sequence[Report]], cfg: EventConfig = CFG) -> None:
    for number, batch in enumerate(batches):
        with Store.open(db, PROJECT_ROOT / "schemas") as store:
            load_batch(
                store, Settings(events=cfg), Manifest(f"run{number}", "test", T0, "test://"), _staged(batch), {}, PASSED
            )


def _tables(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        members = con.execute("SELECT article_id, event_id FROM article_events ORDER BY ALL").fetchall()
        events = con.execute("SELECT * EXCLUDE (_segment) FROM events ORDER BY event_id").fetchall()
    finally:
        con.close()
    return members, events


def test_events_group_reports_of_one_happening_and_are_the_same_for_any_batches_and_order(tmp_path: Path) -> None:
    reports, gold = _reports()
    reference = tmp_path / "reference.duckdb"
    _load(reference, [reports])
    members, events = _tables(reference)
    assert len(members) == len(reports), "one article_events row per loaded article, copies included"
    assert bcubed(dict(members), gold) == (1.0, 1.0, 1.0)
    by_id = {row[0]: row for row in events}
    sonoma = by_id[dict(members)["quake-sonoma-0"]]
    assert sonoma[0] == "quake-sonoma-0"  # the first report names the event
    assert sonoma[4:] == (4, 5, 3)  # four stories (the copy is in the wire's), five articles, three outlets
    assert "Geysers" in sonoma[1] or "Cloverdale" in sonoma[1]
    rng = random.Random(5)
    for attempt in range(4):
        shuffled = rng.sample(reports, len(reports))
        cuts = sorted(rng.sample(range(1, len(shuffled)), 1 + attempt))
        db = tmp_path / f"shuffled{attempt}.duckdb"
        _load(db, [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)])
        assert _tables(db) == (members, events)


def test_events_rows_rebuilt_within_the_touched_span_are_those_of_all_history(tmp_path: Path) -> None:
    """The load reads members' terms only within the span of the events a batch touches; loaded one report a
    batch, latest first (every batch reaching back in time), the rows equal a rebuild with no bound at all."""
    reports, _ = _reports()
    db = tmp_path / "news.duckdb"
    _load(db, [[r] for r in sorted(reports, key=lambda r: -r.hours)])
    members, events = _tables(db)
    with Store.open(db, PROJECT_ROOT / "schemas") as store, store.transaction():
        store.delete("events", "event_id", [row[0] for row in events])
        rebuild_events(
            store,
            sorted({event for _, event in members}),
            (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)),
        )
    assert _tables(db) == (members, events)


def test_a_bridging_report_merges_two_events_under_the_first_ones_id(tmp_path: Path) -> None:
    db = tmp_path / "news.duckdb"
    left = Report("left", ("Vinar", "Cook", "climber", "ridge"), hours=5)
    right = Report("right", ("Zurbriggen", "Tasman", "climber", "glacier"), hours=1)
    _load(db, [[left, right]])
    assert len(_tables(db)[1]) == 2
    bridge = Report("bridge", ("Vinar", "Cook", "Zurbriggen", "Tasman", "climber"), hours=9)
    _load(db, [[bridge]])
    members, events = _tables(db)
    assert dict(members) == {"left": "right", "right": "right", "bridge": "right"}
    assert [row[0] for row in events] == ["right"]  # the event seen first keeps its id; the other's row is gone


def test_a_lone_report_moves_to_the_event_it_is_nearer_when_that_one_arrives(tmp_path: Path) -> None:
    """The lone report is seen first, so it names the event it joins; when the Tasman reports arrive it leaves
    the Cook event for theirs, and each event is named by its own first report. Any batches, any order."""
    cook, tasman = [Report(a, t, h) for a, t, h in COOK], [Report(a, t, h) for a, t, h in TASMAN]
    lone = Report(*LONE)
    db = tmp_path / "news.duckdb"
    _load(db, [[*cook, lone]])
    members, events = _tables(db)
    assert dict(members) == {"a1": "x", "a2": "x", "x": "x"}
    assert [(row[0], row[-2]) for row in events] == [("x", 3)]
    _load(db, [tasman])
    members, events = _tables(db)
    assert dict(members) == {"a1": "a1", "a2": "a1", "b1": "x", "b2": "x", "x": "x"}
    assert [(row[0], row[-2]) for row in events] == [("a1", 2), ("x", 3)]
    for number, batches in enumerate(
        ([[*cook, *tasman, lone]], [[lone], tasman, cook], [[tasman[0], lone], [*cook, tasman[1]]])
    ):
        other = tmp_path / f"{number}.duckdb"
        _load(other, batches)
        assert _tables(other) == (members, events)


def _crowd(seed: int) -> list[Report]:
    """Sixteen reports of five happenings over four days, each naming some of its own names and some of the
    others', with shared generic words, four of them read again days later with other words: cores, lone
    reports that join one, lone ones that join none."""
    rng = random.Random(seed)
    names = [[f"N{event}{k}" for k in range(4)] for event in range(5)]
    words = ["climber", "ridge", "rescue", "glacier", "storm", "helicopter", "crevasse", "body", "weather", "team"]
    reports = []
    for i in range(16):
        own = rng.sample(names[rng.randrange(5)], rng.randint(1, 3))
        strangers = rng.sample([name for group in names for name in group], rng.randint(0, 2))
        terms = [*own, *strangers, *rng.sample(words, 3), f"x{i}a", f"x{i}b"]
        reports.append(Report(f"r{i:02d}", tuple(dict.fromkeys(terms)), hours=rng.uniform(0, 100)))
    for report in reports[::5]:  # read again days later with other words: an article of two inputs
        again = (*rng.sample(names[rng.randrange(5)], 2), *rng.sample(words, 3), f"{report.article_id}c")
        reports.append(replace(report, terms=again, hours=report.hours + rng.uniform(40, 100)))
    return reports


def test_lone_reports_choose_the_same_events_for_any_batches_and_order(tmp_path: Path) -> None:
    """A lone report decides again whenever a batch changes its neighbours: however the reports are split and
    ordered, the tables are those of one batch (and some lone reports did join a core)."""
    joined = 0
    for seed in range(4):
        reports = _crowd(seed)
        reference = tmp_path / f"reference{seed}.duckdb"
        _load(reference, [reports])
        con = duckdb.connect(str(reference), read_only=True)
        (count,) = con.execute("SELECT count(joins) FROM event_cores").fetchall()[0]
        con.close()
        joined += count
        rng = random.Random(seed)
        for attempt in range(2):
            shuffled = rng.sample(reports, len(reports))
            cuts = sorted(rng.sample(range(1, len(shuffled)), 2 + attempt))
            db = tmp_path / f"crowd{seed}-{attempt}.duckdb"
            _load(db, [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)])
            assert _tables(db) == _tables(reference), (seed, attempt)
    assert joined >= 4


def test_an_article_is_seen_at_its_earliest_input_whichever_arrived_first(tmp_path: Path) -> None:
    """Two inputs of one article with the same body, 100 hours apart, and a report 60 hours after the later one:
    every input counts (not only changed versions), so the report joins the article whatever came first."""
    early = Report("x", ("Vinar", "Cook", "climber", "ridge", "glacier"), hours=0, source=0)
    late = replace(early, hours=100, source=1)
    after = Report("y", ("Vinar", "Cook", "climber", "ridge", "brother"), hours=160)
    grouped: list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = []
    for order in ([early, late, after], [late, after, early], [late, early, after]):
        db = tmp_path / f"{len(grouped)}.duckdb"
        _load(db, [[report] for report in order])
        _load(db, [order])  # loaded again: nothing is added
        grouped.append(_tables(db))
    assert grouped[0] == grouped[1] == grouped[2]
    members, events = grouped[0]
    assert dict(members) == {"x": "x", "y": "x"}
    assert [row[2] for row in events] == [T0] and events[0][-1] == 2  # first seen at the earliest input; 2 outlets


def test_a_load_with_other_event_parameters_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "news.duckdb"
    reports, _ = _reports()
    _load(db, [reports[:3]])
    with pytest.raises(RuntimeError, match="stored event terms were made with"):
        _load(db, [reports[3:6]], EventConfig(threshold=0.5))
    _load(db, [reports[3:6]])  # the stored parameters still load


@pytest.mark.slow
def test_the_seed_reports_of_one_meeting_are_one_event(tmp_path: Path, seeds_dir: Path) -> None:
    folder = tmp_path / "seeds"
    shutil.copytree(seeds_dir, folder)
    db = tmp_path / "news.duckdb"
    ingest_folder(Settings.from_env(seeds_dir=folder, db_path=db, staging_dir=tmp_path / "staging"))
    con = duckdb.connect(str(db), read_only=True)
    try:
        event_of = dict(
            con.execute(
                "SELECT r.uri[1:3], e.event_id FROM raw_documents r"
                " JOIN article_versions v USING (raw_id) JOIN article_events e USING (article_id)"
            ).fetchall()
        )
        assert con.execute("SELECT count(*) FROM article_overview WHERE event_id IS NULL").fetchone() == (0,)
    finally:
        con.close()
    assert event_of["000"] == event_of["004"]  # Kishida and Lavrov's December 2016 meeting, two outlets
