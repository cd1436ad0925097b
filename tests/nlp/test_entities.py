"""Entity stage: real spaCy model, real seed articles, GUM gold; no mocks.

Batches go through the steps `annotate` runs (parse, link within each article, resolve across articles),
here without the alias file unless a test passes its rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.evaluation.entities import evaluate_entities, format_table, read_gold
from pipelines.nlp.entities import (
    NO_RULES,
    AliasFileError,
    AliasRules,
    EntityBatch,
    load_alias_rules,
    resolve,
)
from pipelines.nlp.keys import canonical_name, entity_id_for, name_key, person_key
from pipelines.nlp.mentions import ArticleEntities, clean_span, link_article
from pipelines.nlp.model import (
    SKIP_UNKNOWN_LANGUAGE,
    load_pipeline,
    parse,
    structural_spans,
)
from pipelines.records import ArticleText

SETTINGS = Settings.from_env()

# Measured on the GUM news dev set with en_core_web_sm 3.8.0 (P 0.621 R 0.545 F1 0.580 overall),
# minus a margin of about two points for model or platform noise.
GUM_FLOORS = {"PERSON": 0.67, "ORG": 0.57, "LOC": 0.62, "overall": 0.56}


def article(article_id: str, text: str, language: str | None = "en") -> ArticleText:
    return ArticleText(article_id, text, language)


def link(articles: Iterable[ArticleText]) -> list[ArticleEntities]:
    """Parse and link each article, with the configured spaCy model."""
    return [link_article(item) for item in parse(load_pipeline(SETTINGS.spacy_model), articles)]


def extract(articles: Iterable[ArticleText], rules: AliasRules = NO_RULES) -> EntityBatch:
    """Parse, link and resolve across the given articles, as the load resolves across all stored ones."""
    return resolve(link(articles), rules)


def alias_rules() -> AliasRules:
    return load_alias_rules(SETTINGS.alias_file)


def entity_of(batch: EntityBatch, article_id: str, mention_text: str) -> str:
    """The one entity id that every mention with this text in this article links to."""
    ids = {m.entity_id for m in batch.mentions if m.article_id == article_id and m.mention_text == mention_text}
    assert len(ids) == 1, f"{mention_text!r} in {article_id}: {ids}"
    return ids.pop()


def outside_credit_lines(text: str, form: str) -> bool:
    """Whether `form` occurs in `text` outside every byline and dateline."""
    blocked = structural_spans(text)
    return any(
        not any(start <= match.start() < end for start, end in blocked) for match in re.finditer(re.escape(form), text)
    )


def names(batch: EntityBatch) -> dict[str, str]:
    return {entity.entity_id: entity.name for entity in batch.entities}


@pytest.fixture(scope="module")
def seed_articles(seeds_dir: Path) -> list[ArticleText]:
    """Whole seed files as body_text, titles and credit lines included: resolution must cope with both."""
    return [article(path.name, path.read_text(encoding="utf-8")) for path in sorted(seeds_dir.glob("*.txt"))]


@pytest.fixture(scope="module")
def seed_linked(seed_articles: list[ArticleText]) -> list[ArticleEntities]:
    return link(seed_articles)


@pytest.fixture(scope="module")
def seed_batch(seed_linked: list[ArticleEntities]) -> EntityBatch:
    return resolve(seed_linked, alias_rules())


# --- keys and cleaning ---------------------------------------------------------------------------------


def test_keys_fold_case_accents_possessives_and_transliteration() -> None:
    assert name_key("Russian foreign Ministry") == name_key("Russian Foreign Ministry")
    assert name_key("the U.S.") == name_key("US")
    assert name_key("Lavrov’s") == name_key("Lavrov")
    assert person_key("Sergei Lavrov") == person_key("Sergey Lavrov")
    assert person_key("Volodymyr Zelenskyy") == person_key("Volodymyr Zelensky") == person_key("Volodymyr Zelenskiy")
    assert person_key("François Hollande") == person_key("Francois Hollande")
    assert person_key("John Smith") != person_key("Jane Smith")


def test_entity_ids_are_deterministic_and_family_wide() -> None:
    assert entity_id_for("PERSON", "Sergei Lavrov") == entity_id_for("PERSON", "Sergey Lavrov")
    assert entity_id_for("GPE", "Iturup") == entity_id_for("LOC", "Iturup")
    assert entity_id_for("ORG", "Jordan") != entity_id_for("GPE", "Jordan")


def test_canonical_name_is_the_most_frequent_full_form_whatever_the_order() -> None:
    counts = {"Lavrov": 9, "Sergei Lavrov": 3, "Sergey Lavrov": 4}
    assert canonical_name(counts) == "Sergey Lavrov"
    assert canonical_name(dict(reversed(counts.items()))) == "Sergey Lavrov"
    assert canonical_name({"Japan": 5, "JAPAN": 1}) == "Japan"
    # ties: more words, then more capitalized words, then code-point order
    assert canonical_name({"Vladimir Putin": 2, "Vladimir V. Putin": 2}) == "Vladimir V. Putin"
    assert canonical_name({"Russian foreign Ministry": 1, "Russian Foreign Ministry": 1}) == "Russian Foreign Ministry"
    assert canonical_name({"Sergei Lavrov": 2, "Sergey Lavrov": 2}) == "Sergei Lavrov"


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        ("President Vladimir Putin", "PERSON", "Vladimir Putin"),
        ("Russian Foreign Minister Sergey Lavrov", "PERSON", "Sergey Lavrov"),
        ("Vladimir Putin]’s", "PERSON", "Vladimir Putin"),
        ("the Russian Foreign Ministry", "ORG", "Russian Foreign Ministry"),
        ("North Korea’s", "GPE", "North Korea"),
        ("King Charles", "PERSON", "King Charles"),
        ("James To.", "PERSON", "James To"),
        ("the U.S.", "GPE", "U.S."),
        ("Apple Inc.", "ORG", "Apple Inc."),
    ],
)
def test_clean_span_keeps_the_name_only(text: str, label: str, expected: str) -> None:
    span = clean_span(text, 0, len(text), label)
    assert span is not None
    start, end = span
    assert text[start:end] == expected


# --- structure and language gating ---------------------------------------------------------------------


def test_no_entity_from_credit_lines_or_across_paragraphs() -> None:
    text = (
        "• Kyodo\n\n\nForeign Minister Fumio Kishida met Russian Foreign Minister Sergey Lavrov in Moscow.\n\n"
        "MOSCOW, September 21. /TASS/. Lavrov said talks with Japan would continue.\n\nBy Jane Doe"
    )
    batch = extract([article("a", text)])
    blocked = structural_spans(text)
    for mention in batch.mentions:
        assert "\n" not in mention.mention_text
        assert text[mention.start_char : mention.end_char] == mention.mention_text
        assert not any(start < mention.end_char and mention.start_char < end for start, end in blocked)
    assert {"Fumio Kishida", "Sergey Lavrov", "Lavrov", "Japan"} <= {m.mention_text for m in batch.mentions}


def test_foreign_script_lines_yield_no_entities() -> None:
    foreign = "Лавров в Москве встретится с главой МИД Японии"
    text = f"Lavrov in Moscow\n\n{foreign}\n\nSergei Lavrov arrived."
    batch = extract([article("a", text)])
    start = text.index(foreign)
    assert {"Moscow", "Sergei Lavrov"} <= {mention.mention_text for mention in batch.mentions}
    assert not [m for m in batch.mentions if m.start_char < start + len(foreign) and start < m.end_char]
    assert all(mention.mention_text.isascii() for mention in batch.mentions)


def test_uncovered_languages_get_a_reason_not_entities() -> None:
    articles = [
        article("de", "Bundeskanzler Olaf Scholz traf Emmanuel Macron in Berlin.", "de"),
        article("unknown", "Vladimir Putin met Shinzo Abe in Tokyo.", None),
        article("en", "Vladimir Putin met Shinzo Abe in Tokyo.", "en"),
    ]
    parsed = list(parse(load_pipeline(SETTINGS.spacy_model), articles, batch_size=2))
    assert [item.article.article_id for item in parsed] == ["de", "unknown", "en"]
    assert parsed[0].doc is None and parsed[0].skip_reason is not None and "'de'" in parsed[0].skip_reason
    assert parsed[1].skip_reason == SKIP_UNKNOWN_LANGUAGE
    batch = resolve(link_article(item) for item in parsed)
    assert {m.article_id for m in batch.mentions} == {"en"}
    assert dict(batch.skipped).keys() == {"de", "unknown"}


# --- resolution ----------------------------------------------------------------------------------------


def test_partial_names_link_within_an_article_and_type_is_voted() -> None:
    text = (
        "Russian Foreign Minister Sergey Lavrov arrived in Tokyo on Monday.\n\n"
        "Lavrov said the talks were difficult. Lavrov’s visit follows a meeting in May.\n\n"
        "Officials said Lavrov would meet Prime Minister Shinzo Abe."
    )
    batch = extract([article("a", text)])
    lavrov = entity_of(batch, "a", "Sergey Lavrov")
    assert entity_of(batch, "a", "Lavrov") == lavrov
    entity = next(e for e in batch.entities if e.entity_id == lavrov)
    assert (entity.name, entity.type) == ("Sergey Lavrov", "PERSON")
    assert {a.alias for a in batch.aliases if a.entity_id == lavrov} == {"Sergey Lavrov", "Lavrov"}
    sentences = [m.sentence_index for m in batch.mentions if m.entity_id == lavrov]
    assert sentences == sorted(sentences) and sentences[0] == 0 and sentences[-1] >= 3


def test_shared_surname_is_not_merged_without_matching_full_names() -> None:
    articles = [
        article("a", "Former mayor John Smith opened the new library on Monday.\n\nSmith thanked the donors."),
        article("b", "Senator Jane Smith criticised the budget on Tuesday.\n\nSmith voted against it."),
        article("c", "Smith declined to comment on the report."),
    ]
    batch = extract(articles)
    john, jane = entity_of(batch, "a", "John Smith"), entity_of(batch, "b", "Jane Smith")
    assert john != jane
    assert entity_of(batch, "a", "Smith") == john
    assert entity_of(batch, "b", "Smith") == jane
    assert entity_of(batch, "c", "Smith") not in {john, jane}


def test_ids_do_not_depend_on_batch_order(seed_linked: list[ArticleEntities], seed_batch: EntityBatch) -> None:
    reordered = resolve(reversed(seed_linked), alias_rules())
    assert set(reordered.entities) == set(seed_batch.entities)
    assert set(reordered.mentions) == set(seed_batch.mentions)
    assert set(reordered.aliases) == set(seed_batch.aliases)


def test_surname_only_articles_join_the_full_named_person(seed_linked: list[ArticleEntities]) -> None:
    later = link([article("later", "Lavrov told reporters in Geneva that Kishida would visit.")])
    alone, together = resolve(later), resolve([*seed_linked, *later], alias_rules())
    assert names(alone)[entity_of(alone, "later", "Lavrov")] == "Lavrov"
    assert names(together)[entity_of(together, "later", "Lavrov")] == "Sergey Lavrov"
    assert names(together)[entity_of(together, "later", "Kishida")] == "Fumio Kishida"


def test_alias_file_merges_reviewed_names() -> None:
    rules = alias_rules()
    assert rules.by_key[name_key("Etorofu")] == rules.by_key[name_key("Iturup")]
    batch = extract([article("a", "Japan claims Etorofu. Russia calls the island Iturup.")], rules=rules)
    assert {e.name for e in batch.entities if e.type in {"LOC", "GPE"}} >= {"Iturup"}
    assert "Etorofu" not in {e.name for e in batch.entities}


def test_alias_file_rejects_a_form_under_two_entities(tmp_path: Path) -> None:
    path = tmp_path / "aliases.yaml"
    path.write_text(
        "- {name: Iturup, type: LOC, aliases: [Etorofu]}\n- {name: Etorofu Island, type: LOC, aliases: [Etorofu]}\n"
    )
    with pytest.raises(AliasFileError):
        load_alias_rules(path)
    assert SETTINGS.alias_file.is_file()


# --- seeds gold ----------------------------------------------------------------------------------------


def test_mention_offsets_index_body_text(seed_articles: list[ArticleText], seed_batch: EntityBatch) -> None:
    bodies = {a.article_id: a.body_text for a in seed_articles}
    assert seed_batch.mentions
    for m in seed_batch.mentions:
        assert bodies[m.article_id][m.start_char : m.end_char] == m.mention_text


def test_seed_required_forms_resolve_to_one_canonical_entity(
    shared_dir: Path, seed_articles: list[ArticleText], seed_batch: EntityBatch
) -> None:
    gold = [json.loads(line) for line in (shared_dir / "gold" / "seed_entities.jsonl").read_text().splitlines()]
    bodies = {a.article_id: a.body_text for a in seed_articles}
    found = names(seed_batch)
    for entry in (g for g in gold if g["required"]):
        linked = {m.entity_id for m in seed_batch.mentions if m.mention_text in entry["forms"]}
        assert len(linked) <= 1, (entry["name"], linked)
        # An entity named only in a byline or dateline (Kyodo, TASS) is rightly never extracted.
        if any(outside_credit_lines(bodies[seed], form) for seed in entry["seeds"] for form in entry["forms"]):
            assert [found.get(entity_id) for entity_id in linked] == [entry["name"]], (entry["name"], linked)


# --- evaluation ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_gum_news_scores_stay_above_the_measured_floor(shared_dir: Path) -> None:
    scores = evaluate_entities(shared_dir / "corpora" / "gum-news", SETTINGS.spacy_model)
    table = format_table(scores)
    assert scores.documents == 24, table
    for name, floor in GUM_FLOORS.items():
        score = scores.overall if name == "overall" else scores.per_type[name]
        assert score.f1 >= floor, f"{name} F1 {score.f1:.3f} < {floor}\n{table}"
    overall = scores.as_dict()["overall"]
    assert isinstance(overall, dict) and overall["f1"] == scores.overall.f1


def test_conll_bio_gold_is_read_as_exact_spans(tmp_path: Path) -> None:
    path = tmp_path / "tiny.conll"
    path.write_text(
        "-DOCSTART- -X- -X- O\n\n"
        "Sergey NNP B-NP B-PER\nLavrov NNP I-NP I-PER\nvisited VBD B-VP O\nTokyo NNP B-NP B-LOC\n. . O O\n\n"
    )
    (document,) = read_gold(path)
    assert document.text == "Sergey Lavrov visited Tokyo ."
    assert [(document.text[s.start : s.end], s.type) for s in document.spans] == [
        ("Sergey Lavrov", "PERSON"),
        ("Tokyo", "LOC"),
    ]
    scores = evaluate_entities(path, SETTINGS.spacy_model)
    assert scores.overall.f1 == 1.0, format_table(scores)
