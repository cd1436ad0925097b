"""The NLP stage's single entry, `annotate`: one parse per article, entities resolved, quotes linked to them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.config import Settings
from pipelines.nlp.annotate import PARSE_CHUNK, annotate
from pipelines.records import ArticleRow

SETTINGS = Settings.from_env()
FETCHED_AT = datetime(2024, 5, 2, tzinfo=UTC)
# A stored entity the stage is handed: it must not change what the stage writes for an article.


def row(article_id: str, body: str, language: str | None = "en") -> ArticleRow:
    """An article as the text stage stages it; only id, body and language matter to the NLP stage."""
    return ArticleRow(
        article_id=article_id,
        raw_id=f"raw-{article_id}",
        source_id="src",
        item_key=article_id,
        url=None,
        uri=f"file:///{article_id}.txt",
        title=None,
        title_missing=True,
        alt_title=None,
        alt_title_language=None,
        subtitle=None,
        byline=None,
        authors=[],
        outlet=None,
        published_at=None,
        published_at_reported=None,
        dateline_text=None,
        dateline_place=None,
        dateline_agency=None,
        dateline_month=None,
        dateline_day=None,
        dateline_year=None,
        language=language,
        language_confidence=1.0,
        languages=[language] if language else [],
        mixed_language=False,
        body_text=body,
        word_count=len(body.split()),
        content_hash=article_id,
        fetched_at=FETCHED_AT,
        extractor="test",
    )


def test_an_empty_batch_has_no_annotations() -> None:
    annotations = annotate([], SETTINGS)
    assert annotations.articles == [] and all(not rows for rows in annotations.tables().values())


def test_each_article_is_resolved_alone_and_quotes_link_to_its_entities() -> None:
    """What the stage writes for an article is the same alone or in any batch."""
    articles = [
        row("one", "“Talks are hard,” Lavrov said in Geneva.\n\nFumio Kishida met him on Monday."),
        row("two", "Prime Minister Fumio Kishida arrived.\n\n“We will keep working,” Kishida told reporters."),
    ]
    annotations = annotate(articles, SETTINGS)
    entities = {entity.entity_id: entity for entity in annotations.entities}
    assert {m.entity_id for m in annotations.mentions} <= entities.keys()
    (lavrov,) = {m.entity_id for m in annotations.mentions if m.mention_text == "Lavrov"}
    assert entities[lavrov].name == "Lavrov"
    kishida = {m.entity_id for m in annotations.mentions if "Kishida" in m.mention_text}
    assert len(kishida) == 1 and entities[next(iter(kishida))].name == "Fumio Kishida"
    speakers = {(q.article_id, q.speaker_entity_id) for q in annotations.quotes}
    assert speakers == {("one", lavrov), ("two", next(iter(kishida)))}
    assert [a.nlp_skip_reason for a in annotations.articles] == [None, None]
    for article in articles:
        alone = annotate([article], SETTINGS)
        assert alone.mentions == [m for m in annotations.mentions if m.article_id == article.article_id]
        assert alone.quotes == [q for q in annotations.quotes if q.article_id == article.article_id]


def test_a_non_english_article_gets_a_reason_and_no_annotations() -> None:
    articles = [
        row("de", "„Die Gespräche sind schwer“, sagte Olaf Scholz in Berlin.", "de"),
        row("en", "“Talks are hard,” Olaf Scholz said in Berlin."),
    ]
    annotations = annotate(articles, SETTINGS)
    assert [a.article_id for a in annotations.articles] == ["de", "en"]
    german, english = annotations.articles
    assert german.nlp_skip_reason is not None and "'de'" in german.nlp_skip_reason
    assert english.nlp_skip_reason is None
    assert {m.article_id for m in annotations.mentions} == {"en"}
    assert {q.article_id for q in annotations.quotes} == {"en"}
    assert german.body_text == articles[0].body_text


def test_the_longest_chunks_are_parsed_first_and_rows_keep_their_order() -> None:
    """A pool that ends on short chunks leaves no worker idle for long; the rows still come back in input order."""
    lengths = [1, 1, 1, 1, 2, 3, 2, 2, 9, 8, 9]  # paragraphs per article: in input order, chunks grow
    articles = [
        row(f"a{i}", "\n\n".join([f"Maria Lopez spoke in Lima on day {i}."] * n)) for i, n in enumerate(lengths)
    ]
    submitted: list[list[str]] = []

    def recording_map(fn, chunks, *rest):  # the builtin map, noting what each call was handed, in order
        chunks = list(chunks)
        submitted.extend([row.article_id for row in chunk] for chunk in chunks)
        return map(fn, chunks, *rest)

    annotations = annotate(articles, SETTINGS, recording_map)
    sizes = [sum(lengths[int(article_id[1:])] for article_id in chunk) for chunk in submitted]
    assert sizes == sorted(sizes, reverse=True) and sizes != [
        sum(lengths[i : i + PARSE_CHUNK]) for i in range(0, len(lengths), PARSE_CHUNK)
    ]
    assert sorted(article_id for chunk in submitted for article_id in chunk) == sorted(a.article_id for a in articles)
    assert [a.article_id for a in annotations.articles] == [a.article_id for a in articles]
    assert [m.article_id for m in annotations.mentions] == sorted(
        (m.article_id for m in annotations.mentions), key=lambda article_id: int(article_id[1:])
    )
    assert {m.article_id for m in annotations.mentions} == {a.article_id for a in articles}


def test_an_article_annotating_fails_on_is_refused_alone_and_its_chunk_keeps_the_rest(monkeypatch) -> None:
    """An unforeseen error in one article's annotation (forced here in the entity linker) refuses that article with
    the reason; the others of its chunk keep their entities. An out-of-memory error is the batch's: it is raised."""
    import pipelines.nlp.annotate as module

    real_link = module.link_article

    def link_failing_on_two(item):
        if item.article.article_id == "two":
            raise IndexError("list index out of range")
        return real_link(item)

    monkeypatch.setattr(module, "link_article", link_failing_on_two)
    articles = [
        row(name, f"Fumio Kishida met Sergey Lavrov in Moscow on {day}.")
        for name, day in (("one", "Monday"), ("two", "Tuesday"), ("three", "Friday"))
    ]
    annotations = annotate(articles, SETTINGS)
    assert [article.article_id for article in annotations.articles] == ["one", "three"]
    assert {mention.article_id for mention in annotations.mentions} == {"one", "three"}
    (refused,) = annotations.rejections
    assert (refused.raw_id, refused.stage, refused.detail) == ("raw-two", "annotate", "two")
    assert refused.reason == "annotating failed on this input: IndexError: list index out of range"

    def out_of_memory(item):
        raise MemoryError

    monkeypatch.setattr(module, "link_article", out_of_memory)
    with pytest.raises(MemoryError) as raised:
        annotate(articles[:1], SETTINGS)
    assert raised.value.__notes__ == ["while annotating file:///one.txt"]
