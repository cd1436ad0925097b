"""The spaCy model module: the guard component, language gating and batched parsing, on the real model."""

from __future__ import annotations

import pytest

from pipelines.config import Settings
from pipelines.nlp.model import (
    GUARD_COMPONENT,
    SKIP_EMPTY,
    SKIP_UNKNOWN_LANGUAGE,
    load_pipeline,
    parse,
    skip_reason,
    structural_spans,
)
from pipelines.records import ArticleText

SETTINGS = Settings.from_env()


@pytest.fixture(scope="module")
def nlp():
    return load_pipeline(SETTINGS.spacy_model)


def test_the_pipeline_is_loaded_once_with_the_guard_first(nlp) -> None:
    assert load_pipeline(SETTINGS.spacy_model) is nlp
    assert nlp.pipe_names[0] == GUARD_COMPONENT
    assert "lemmatizer" not in nlp.pipe_names


def test_no_entity_crosses_a_line_break(nlp) -> None:
    # Without the guard the small English model reads "Vladimir\nPutin" as one PERSON.
    text = "Talks with Vladimir\nPutin ended in Moscow.\nShinzo\nAbe left."
    doc = nlp(text)
    assert doc.ents
    assert not [ent.text for ent in doc.ents if "\n" in ent.text]
    assert {"Vladimir", "Putin"} <= {ent.text for ent in doc.ents}
    line_starts = [token for token in doc if token.i > 0 and doc[token.i - 1].is_space and "\n" in doc[token.i - 1].text]
    assert line_starts and all(token.is_sent_start for token in line_starts)


def test_the_guard_blocks_breaks_and_foreign_words_and_starts_a_sentence_after_each_break(nlp) -> None:
    # The guard maps text offsets to tokens: check it against what each token holds, token by token.
    text = "Vladimir Putin (Владимир Путин) spoke.\nSergey Lavrov \n\n agreed in 東京 today.\n"
    doc = nlp.get_pipe(GUARD_COMPONENT)(nlp.make_doc(text))
    blocked = [token.text for token in doc if token.ent_iob_ == "B" and not token.ent_type_]
    assert blocked == ["Владимир", "Путин", "\n", "\n\n ", "東京", "\n"]  # "Lavrov" owns the first space
    assert [token.text for token in doc if token.i and token.is_sent_start] == ["Sergey", "agreed"]
    assert [token.is_sent_start for token in doc[1:]].count(None) == len(doc) - 3


def test_credit_lines_and_datelines_are_never_entities(nlp) -> None:
    text = "• Kyodo\n\nMOSCOW, September 21. /TASS/. Fumio Kishida met Sergey Lavrov.\n\nBy Jane Doe"
    doc = nlp(text)
    blocked = structural_spans(text)
    found = {ent.text for ent in doc.ents}
    # Without the guard the model tags "• Kyodo" ORG and "Jane Doe" PERSON.
    assert "Sergey Lavrov" in found and not found & {"• Kyodo", "Kyodo", "Jane Doe", "MOSCOW", "TASS"}
    assert not [ent.text for ent in doc.ents if any(s < ent.end_char and ent.start_char < e for s, e in blocked)]


@pytest.mark.parametrize(
    ("body", "language", "expected"),
    [
        ("Vladimir Putin met Shinzo Abe.", "en", None),
        ("Vladimir Putin met Shinzo Abe.", "en-GB", None),
        (" \n\n ", "en", SKIP_EMPTY),
        ("Vladimir Putin met Shinzo Abe.", None, SKIP_UNKNOWN_LANGUAGE),
    ],
)
def test_skip_reasons(nlp, body: str, language: str | None, expected: str | None) -> None:
    assert skip_reason(nlp, ArticleText("a", body, language)) == expected


def test_another_language_is_skipped_with_both_languages_named(nlp) -> None:
    reason = skip_reason(nlp, ArticleText("a", "Olaf Scholz traf Emmanuel Macron in Berlin.", "de"))
    assert reason is not None and "'de'" in reason and f"'{nlp.lang}'" in reason


def test_parse_keeps_input_order_across_batches(nlp) -> None:
    articles = [
        ArticleText("1", "Vladimir Putin met Shinzo Abe in Tokyo.", "en"),
        ArticleText("2", "Olaf Scholz traf Emmanuel Macron.", "de"),
        ArticleText("3", "Sergey Lavrov flew to Geneva.", "en"),
        ArticleText("4", "", "en"),
        ArticleText("5", "Fumio Kishida spoke in Moscow.", "en"),
    ]
    parsed = list(parse(nlp, articles, batch_size=2))
    assert [item.article for item in parsed] == articles
    assert [item.skip_reason is None for item in parsed] == [True, False, True, False, True]
    for item in parsed:
        assert (item.doc is None) == (item.skip_reason is not None)
        assert item.doc is None or item.doc.text == item.article.body_text
