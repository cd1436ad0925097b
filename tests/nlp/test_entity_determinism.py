"""Entity ids, types and names are a function of the articles loaded, never of shards, batches or arrival order.

The seeds go through the real pipeline (stage, validate, load: real spaCy model, real DuckDB files) three ways
into three databases: one stage shard, two stage shards, and five one-file runs in reverse order. Every entity
table must come out the same. The seed folder is one path for all three, so article ids agree.
"""

from __future__ import annotations

import itertools
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import duckdb
import pytest
from quality_batches import PASSED
from table_snapshot import scalar

from pipelines.config import Settings
from pipelines.pipeline import load_stages, new_run_id, stage_folder, validate_stages
from pipelines.storage.load import load_batch
from pipelines.storage.staging import Manifest
from pipelines.storage.store import Store
from pipelines.tables import STAGED_TABLES

# Whole ingests of the seeds in several splits: what `make test-fast` leaves out.
pytestmark = pytest.mark.slow

Tables = dict[str, list[tuple[object, ...]]]

# Every column but `updated_at`, which says when a row was last written, not what it holds.
ENTITY_TABLES = {
    "entities": "SELECT entity_id, name, type FROM entities",
    "entity_aliases": "SELECT entity_id, alias FROM entity_aliases",
    # Every column but the writer's own bookkeeping (`_segment`: which published file holds the row).
    "entity_mentions": "SELECT COLUMNS(lambda c: c <> '_segment') FROM entity_mentions",
    "article_entities": "SELECT COLUMNS(lambda c: c <> '_segment') FROM article_entities",
    "quotes": "SELECT quote_id, article_id, speaker_text, speaker_entity_id, speaker_local_id FROM quotes",
}
ONE_SHARD, TWO_SHARDS, ONE_FILE_AT_A_TIME = "one shard", "two shards", "one file at a time, reversed"


def ingest(settings: Settings, shards: int) -> list[int]:
    """One run of the seed folder through stage (per shard), validate and load; the articles each shard staged."""
    run_id = new_run_id("test")
    staged = [stage_folder(settings, run_id, "test", shard, shards) for shard in range(shards)]
    validate_stages(settings, [batch.path for batch in staged])
    load_stages(settings, [batch.path for batch in staged])
    return [batch.articles for batch in staged]


def read_tables(db_path: Path) -> Tables:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {table: sorted(con.execute(sql).fetchall()) for table, sql in ENTITY_TABLES.items()}
    finally:
        con.close()


class Runs:
    """Loads into separate databases from one folder path (so article ids agree), each run given its files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / "input"
        self.settings: dict[str, Settings] = {}
        self.steps: dict[str, list[Tables]] = {}  # each database after each of its runs
        self.staged: dict[str, list[int]] = {}  # articles each shard of the last run staged

    def load(self, name: str, runs: list[list[Path]], shards: int = 1) -> None:
        settings = Settings.from_env(
            db_path=self.root / name / "news.duckdb", staging_dir=self.root / name / "staging", seeds_dir=self.folder
        )
        self.settings[name] = settings
        for files in runs:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir()
            for path in files:
                shutil.copy(path, self.folder / path.name)
            self.staged[name] = ingest(settings, shards)
            self.steps.setdefault(name, []).append(read_tables(settings.db_path))

    def tables(self, name: str) -> Tables:
        return self.steps[name][-1]


@pytest.fixture(scope="module")
def ingests(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Runs:
    seeds = sorted(seeds_dir.iterdir())
    runs = Runs(tmp_path_factory.mktemp("seeds"))
    runs.load(ONE_SHARD, [seeds])
    runs.load(TWO_SHARDS, [seeds], shards=2)
    runs.load(ONE_FILE_AT_A_TIME, [[seed] for seed in reversed(seeds)])
    return runs


def test_two_shards_each_staged_part_of_the_seeds(ingests: Runs) -> None:
    assert len(ingests.staged[TWO_SHARDS]) == 2 and all(ingests.staged[TWO_SHARDS]), ingests.staged


@pytest.mark.parametrize("table", list(ENTITY_TABLES))
@pytest.mark.parametrize("other", [TWO_SHARDS, ONE_FILE_AT_A_TIME])
def test_entity_tables_do_not_depend_on_shards_batches_or_order(ingests: Runs, table: str, other: str) -> None:
    expected, found = ingests.tables(ONE_SHARD)[table], ingests.tables(other)[table]
    assert expected, f"no {table} rows"
    assert found == expected, (sorted(set(expected) - set(found))[:5], sorted(set(found) - set(expected))[:5])


@pytest.mark.parametrize("name", [ONE_SHARD, TWO_SHARDS, ONE_FILE_AT_A_TIME])
def test_every_mention_and_speaker_points_at_its_resolved_entity(ingests: Runs, name: str) -> None:
    broken = {
        "mention of no entity": "SELECT m.* FROM entity_mentions m ANTI JOIN entities USING (entity_id)",
        "speaker of no entity": "SELECT q.quote_id FROM quotes q WHERE q.speaker_entity_id IS NOT NULL"
        " AND q.speaker_entity_id NOT IN (SELECT entity_id FROM entities)",
        "mention without its article entity": "SELECT m.* FROM entity_mentions m"
        " ANTI JOIN article_entities USING (article_id, local_id)",
        "mention not where its article entity resolved": "SELECT m.* FROM entity_mentions m JOIN article_entities a"
        " USING (article_id, local_id) WHERE m.entity_id <> a.entity_id",
        "speaker not where its article entity resolved": "SELECT q.quote_id FROM quotes q JOIN article_entities a"
        " ON a.article_id = q.article_id AND a.local_id = q.speaker_local_id WHERE q.speaker_entity_id <> a.entity_id",
        "entity without mentions": "SELECT e.* FROM entities e ANTI JOIN entity_mentions USING (entity_id)",
    }
    con = duckdb.connect(str(ingests.settings[name].db_path), read_only=True)
    try:
        assert scalar(con.execute("SELECT count(*) FROM quotes WHERE speaker_entity_id IS NOT NULL")) > 0
        found = {problem: con.execute(sql).fetchall()[:3] for problem, sql in broken.items()}
    finally:
        con.close()
    assert not any(found.values()), {problem: rows for problem, rows in found.items() if rows}


def test_later_runs_re_resolve_what_earlier_runs_stored(ingests: Runs) -> None:
    """The one-file runs end where one run over all seeds does only because a load re-points stored rows."""
    changed = 0
    steps = ingests.steps[ONE_FILE_AT_A_TIME]
    for before, after in itertools.pairwise(steps):
        earlier = {row[0] for row in before["entity_mentions"]}
        changed += len(set(before["entity_mentions"]) - {row for row in after["entity_mentions"] if row[0] in earlier})
        named = {row[0]: row[1:] for row in after["entities"]}
        changed += sum(named.get(entity_id, tuple(rest)) != tuple(rest) for entity_id, *rest in before["entities"])
    assert changed, "no load changed what an earlier one stored: the order test proves nothing"


@pytest.mark.parametrize("name", [ONE_SHARD, TWO_SHARDS, ONE_FILE_AT_A_TIME])
def test_lavrov_is_named_by_his_most_frequent_full_form(ingests: Runs, name: str, seeds_dir: Path) -> None:
    """'Sergey' is the spelling most of the seeds' full mentions use; the README's query must find him."""
    con = duckdb.connect(str(ingests.settings[name].db_path), read_only=True)
    try:
        forms = dict(
            con.execute(
                "SELECT mention_text, count(*) FROM entity_mentions"
                " WHERE mention_text IN ('Sergey Lavrov', 'Sergei Lavrov') GROUP BY 1"
            ).fetchall()
        )
        (entity,) = con.execute(
            "SELECT DISTINCT e.name FROM entity_mentions m JOIN entities e USING (entity_id)"
            " WHERE m.mention_text IN ('Sergey Lavrov', 'Sergei Lavrov', 'Lavrov')"
        ).fetchall()
        articles = con.execute(
            "SELECT DISTINCT a.article_id FROM entity_mentions m JOIN entities e USING (entity_id)"
            " JOIN articles a USING (article_id) WHERE e.name = 'Sergey Lavrov'"
        ).fetchall()
    finally:
        con.close()
    assert forms["Sergey Lavrov"] > forms["Sergei Lavrov"] > 0
    assert entity == ("Sergey Lavrov",)
    assert len(articles) == len(list(seeds_dir.iterdir()))  # every seed names him


def test_a_database_from_before_article_entities_is_regrouped_on_its_next_load(ingests: Runs, tmp_path: Path) -> None:
    """Mentions stored before migration 008 have no article entities: the next load (here an empty one) rebuilds
    them from the mentions and re-resolves every entity, whatever names the old code had stored."""
    path = tmp_path / "upgraded.duckdb"
    shutil.copy(ingests.settings[ONE_SHARD].writer_db_path, path)  # the writer: what a load opens
    settings = ingests.settings[ONE_SHARD]
    with Store.open(path, settings.schemas_dir) as store:
        for sql in (
            "DELETE FROM article_entities",
            "UPDATE entity_mentions SET local_id = entity_id",
            "UPDATE quotes SET speaker_local_id = speaker_entity_id",
            "UPDATE entities SET name = 'stale'",
        ):
            store.con.execute(sql)
        manifest = Manifest("upgrade", "test", datetime.now(UTC), str(settings.seeds_dir))
        load_batch(store, Settings(), manifest, {table: [] for table in STAGED_TABLES}, {}, PASSED)
    expected, found = ingests.tables(ONE_SHARD), read_tables(path)
    assert found["entities"] == expected["entities"]
    assert found["entity_aliases"] == expected["entity_aliases"]
    assert [row[:-1] for row in found["entity_mentions"]] == [row[:-1] for row in expected["entity_mentions"]]
    assert [row[:4] for row in found["quotes"]] == [row[:4] for row in expected["quotes"]]
    assert {row[:2] for row in found["article_entities"]} == {(row[0], row[-1]) for row in found["entity_mentions"]}


# --- a bare surname stored before the full names that decide whom it means ------------------------------

# Each body has at least 100 characters: the articles suite quarantines shorter ones.
SURNAME_ARTICLES = {
    "a_bare.txt": "Lavrov told reporters in Geneva on Monday that the talks would continue.\n\n"
    "Lavrov said he expected an answer within a week.",
    "b_full.txt": "Russian Foreign Minister Sergey Lavrov arrived in Tokyo on Tuesday.\n\n"
    "Lavrov met his Japanese counterpart for three hours.",
    "c_namesake.txt": "Former mayor Anna Lavrov opened a new library in Kazan on Wednesday.\n\n"
    "Lavrov thanked the donors who paid for it.",
    # A family name written first reaches its full name through the full name's words, not a surname's key.
    "d_bare_family_name.txt": "Xi told a party meeting in Beijing on Monday that growth would recover this year.\n\n"
    "Xi did not give a figure for it.",
    "e_family_name_first.txt": "Chinese President Xi Jinping arrived in Moscow on Tuesday for two days of talks.\n\n"
    "Xi was greeted at the airport by officials.",
}
ALL_AT_ONCE, FORWARD, BACKWARD = "all at once", "bare surname first", "bare surname last"


@pytest.fixture(scope="module")
def surname_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    source = tmp_path_factory.mktemp("surname_articles")
    for name, text in SURNAME_ARTICLES.items():
        (source / name).write_text(text, encoding="utf-8")
    bare, full, namesake, bare_family, family_first = (source / name for name in SURNAME_ARTICLES)
    runs = Runs(tmp_path_factory.mktemp("surnames"))
    runs.load(ALL_AT_ONCE, [[bare, full, namesake, bare_family, family_first]])
    runs.load(FORWARD, [[bare, bare_family], [full], [namesake], [family_first]])
    runs.load(BACKWARD, [[namesake, family_first], [full], [bare, bare_family]])
    return runs


def entities_of(tables: Tables, text: str) -> dict[str, str]:
    """The entity each article's mentions with this exact text link to (one per article)."""
    linked: dict[str, set[str]] = {}
    for article_id, entity_id, mention_text, *_ in tables["entity_mentions"]:
        if mention_text == text:
            linked.setdefault(cast(str, article_id), set()).add(cast(str, entity_id))  # VARCHAR columns
    assert all(len(ids) == 1 for ids in linked.values()), linked
    return {article_id: ids.pop() for article_id, ids in linked.items()}


def test_a_stored_bare_surname_joins_the_one_full_name_and_leaves_it_for_a_namesake(surname_runs: Runs) -> None:
    alone, with_full, with_namesake, *_ = surname_runs.steps[FORWARD]
    (bare,) = entities_of(alone, "Lavrov").values()
    (sergey,) = entities_of(with_full, "Sergey Lavrov").values()
    (anna,) = entities_of(with_namesake, "Anna Lavrov").values()
    bare_article = next(iter(entities_of(alone, "Lavrov")))
    assert entities_of(with_full, "Lavrov")[bare_article] == sergey != bare
    assert entities_of(with_namesake, "Lavrov")[bare_article] not in {sergey, anna}
    assert set(entities_of(with_namesake, "Sergey Lavrov").values()) == {sergey}


@pytest.mark.parametrize("table", list(ENTITY_TABLES))
@pytest.mark.parametrize("order", [FORWARD, BACKWARD])
def test_bare_surnames_resolve_the_same_in_any_order(surname_runs: Runs, table: str, order: str) -> None:
    expected = surname_runs.tables(ALL_AT_ONCE)[table]
    assert surname_runs.tables(order)[table] == expected


def test_a_stored_family_name_joins_the_full_name_written_family_first(surname_runs: Runs) -> None:
    *_, bare_only, with_full = surname_runs.steps[FORWARD]
    (bare_article,) = set(entities_of(bare_only, "Xi")) - set(entities_of(with_full, "Xi Jinping"))
    (xi_jinping,) = entities_of(with_full, "Xi Jinping").values()
    assert entities_of(bare_only, "Xi")[bare_article] != xi_jinping
    assert entities_of(with_full, "Xi")[bare_article] == xi_jinping
