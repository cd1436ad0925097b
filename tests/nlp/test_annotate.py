"""The NLP stage's single entry, `annotate`: one parse per article, entities resolved, quotes linked to them."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.config import Settings
from pipelines.nlp.annotate import annotate
from pipelines.records import ArticleRow

SETTINGS = Settings.from_env()
FETCHED_AT = datetime(2024, 5, 2, tzinfo=UTC)
# A stored entity the stage is handed: it must not change what the stage writes for an article.


def row(article_id: str, body: str, language: str | None = "en") -> ArticleRow:
    """An article as the text stage stages it; only id, body and language matter to the NLP stage."""
    return ArticleRow(
        article_id=article_id, raw_id=f"raw-{article_id}", source_id="src", item_key=article_id, url=None,
        uri=f"file:///{article_id}.txt", title=None, title_missing=True, alt_title=None, alt_title_language=None,
        subtitle=None, byline=None, authors=[], outlet=None, published_at=None, published_at_reported=None,
        dateline_text=None, dateline_place=None, dateline_agency=None, dateline_month=None, dateline_day=None,
        dateline_year=None, language=language, language_confidence=1.0, languages=[language] if language else [],
        mixed_language=False, body_text=body, word_count=len(body.split()), content_hash=article_id,
        fetched_at=FETCHED_AT, extractor="test",
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
