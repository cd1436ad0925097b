"""The table registry against what it describes: the migrated schema, the record types, the suites and the stages."""

from __future__ import annotations

from dataclasses import fields

import pytest

from pipelines.config import SCHEMAS_DIR
from pipelines.nlp.annotate import Annotations
from pipelines.records import ArticleTerms, Entity, EntityAlias, EntityMention, Quote
from pipelines.storage.store import Store
from pipelines.tables import (
    ANNOTATION_TABLES,
    DATA_TABLES,
    STAGED_TABLES,
    TABLES,
    VALIDATED_RECORDS,
    VALIDATED_TABLES,
    Table,
    check_table,
)


@pytest.fixture(scope="module")
def columns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Every table of a freshly migrated database, with its columns."""
    path = tmp_path_factory.mktemp("schema") / "news.duckdb"
    with Store.open(path, SCHEMAS_DIR) as store:
        found = store.con.execute(
            "SELECT table_name, list(column_name) FROM duckdb_columns() WHERE database_name = current_database()"
            " AND table_name IN (SELECT table_name FROM duckdb_tables()) GROUP BY table_name"
        ).fetchall()
    return {table: set(names) for table, names in found}


def test_every_table_the_migrations_create_is_declared_once(columns: dict[str, set[str]]) -> None:
    names = [table.name for table in TABLES]
    assert len(names) == len(set(names))
    assert set(names) == set(columns)


@pytest.mark.parametrize("table", [table for table in TABLES if table.record is not None], ids=lambda t: t.name)
def test_a_record_type_writes_only_columns_its_table_has(table: Table, columns: dict[str, set[str]]) -> None:
    assert table.record is not None
    assert {field.name for field in fields(table.record)} <= columns[table.name]


def test_each_validated_table_has_its_suite_and_its_id_columns(columns: dict[str, set[str]]) -> None:
    assert tuple(VALIDATED_RECORDS) == VALIDATED_TABLES
    for table in TABLES:
        suite = SCHEMAS_DIR / "expectations" / f"{table.name}.json"
        assert suite.is_file() == table.validated, table.name
        assert set(table.ids) <= columns[table.name]
        assert set(table.ids) <= {field.name for field in fields(table.record)} if table.record else not table.ids


def test_staged_and_annotation_tables_are_data_tables_analysts_can_query() -> None:
    assert set(STAGED_TABLES) <= set(DATA_TABLES)
    assert {table.name for table in ANNOTATION_TABLES} <= set(STAGED_TABLES)
    assert check_table("articles") == "articles"
    with pytest.raises(ValueError, match="unknown table 'published_segments'"):
        check_table("published_segments")  # the writer's own bookkeeping is never a name from outside


def test_annotations_are_sorted_into_their_tables_by_record_type() -> None:
    entity = Entity("e1", "Sergey Lavrov", "PERSON")
    alias = EntityAlias("e1", "Lavrov")
    mention = EntityMention("a1", "e1", "Lavrov", 0, 6, 0, "PERSON")
    quote = Quote("q1", "a1", "We will talk.", 10, 23, "Lavrov", 0, 6, "e1", "said", "direct", 0.9, "rules-v1:post-cue")
    terms = ArticleTerms("a1", "r1", ["Lavrov", "talk"], [0.8, 0.6], ["lavrov"], "lavrov", ["lavrov"])
    tables = Annotations([], [entity], [alias], [mention], [quote], [terms]).tables()
    assert tables == {
        "entities": [entity],
        "entity_aliases": [alias],
        "entity_mentions": [mention],
        "quotes": [quote],
        "article_terms": [terms],
    }
    assert Annotations([]).tables() == {table.name: [] for table in ANNOTATION_TABLES}
