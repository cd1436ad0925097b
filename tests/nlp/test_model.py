"""The spaCy model module: the guard component, language gating and batched parsing, on the real model."""

from __future__ import annotations

import pytest

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.nlp.model import (
    GUARD_COMPONENT,
    SKIP_EMPTY,
    SKIP_UNKNOWN_LANGUAGE,
    load_pipeline,
    parse,
    parse_in_windows,
    skip_reason,
    structural_spans,
    text_windows,
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
    line_starts = [
        token for token in doc if token.i > 0 and doc[token.i - 1].is_space and "\n" in doc[token.i - 1].text
    ]
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


# --- long texts: parsed in windows, one Doc in document coordinates ------------------------------


def news_text(repeats: int) -> str:
    """The seeds' news paragraphs (names, datelines, quotes), `repeats` times, as one article body."""
    paragraphs = [
        p.strip()
        for path in sorted((PROJECT_ROOT / "seeds").glob("*.txt"))
        for p in path.read_text(encoding="utf-8").split("\n\n")
        if p.strip()
    ]
    return "\n\n".join(paragraphs * repeats)


def away_from(seams: list[int], distance: int):
    return lambda start, end: all(end < seam - distance or start > seam + distance for seam in seams)


def test_windows_join_back_to_the_text_and_end_where_paragraphs_do() -> None:
    text = news_text(1)
    pieces = text_windows(text, 4_000)
    assert len(pieces) > 3 and "".join(pieces) == text and all(0 < len(piece) <= 4_000 for piece in pieces)
    assert all(piece.endswith("\n") for piece in pieces[:-1])  # every seed paragraph is shorter than a window
    line = "word " * 1_000  # one huge line: cut at spaces, never inside a word
    assert [piece[-1] for piece in text_windows(line, 333)[:-1]] == [" "] * (len(text_windows(line, 333)) - 1)
    assert text_windows("x" * 1_000, 300) == ["x" * 300] * 3 + ["x" * 100]  # no space at all: cut at the limit
    assert text_windows(text, len(text)) == [text]


def test_the_joined_parse_is_the_windows_parses_in_one_doc(nlp) -> None:
    """Built from each window's words and columns, it equals spaCy's own join of the windows' Docs."""
    import numpy
    from spacy.tokens import Doc

    text = news_text(1)
    joined = parse_in_windows(nlp, text, 4_000)
    windows = Doc.from_docs([nlp(piece) for piece in text_windows(text, 4_000)], ensure_whitespace=False)
    assert joined.text == text and len(joined) == len(windows)
    for attr in ("ORTH", "SPACY", "TAG", "POS", "MORPH", "NORM", "HEAD", "DEP", "SENT_START", "ENT_IOB", "ENT_TYPE"):
        assert numpy.array_equal(joined.to_array([attr]), windows.to_array([attr])), attr
    assert [(s.start, s.end) for s in joined.sents] == [(s.start, s.end) for s in windows.sents]
    assert [(e.start_char, e.end_char, e.label_) for e in joined.ents] == [
        (e.start_char, e.end_char, e.label_) for e in windows.ents
    ]
    assert [c.start for c in joined.noun_chunks] == [c.start for c in windows.noun_chunks]
    assert len(list(joined.sents)) > 20 and len(joined.ents) > 50


def test_a_long_text_parsed_in_windows_has_the_whole_parse_away_from_the_seams(nlp) -> None:
    """Mentions and quotes in document coordinates, identical to one parse of the whole text away from the seams."""
    from pipelines.nlp.entities import AliasRules, resolve
    from pipelines.nlp.mentions import link_article
    from pipelines.nlp.quotes.extract import extract_batch

    text = news_text(2)
    article = ArticleText("long", text, "en", None)
    whole = next(parse(nlp, [article], window_chars=len(text)))
    windowed = next(parse(nlp, [article], window_chars=4_000))
    starts = [0]
    for piece in text_windows(text, 4_000):
        starts.append(starts[-1] + len(piece))
    seams = starts[1:-1]
    assert len(seams) >= 8 and windowed.doc is not None and windowed.doc.text == text
    far = away_from(seams, 300)

    def found(item):
        batch = resolve([link_article(item)], AliasRules())
        mentions = {
            (m.start_char, m.end_char, m.mention_text, m.label) for m in batch.mentions if far(m.start_char, m.end_char)
        }
        quotes = {
            (q.start_char, q.end_char, q.speaker_text, q.kind)
            for q in extract_batch([item], batch.mentions, batch.entities)
            if far(q.start_char, q.end_char)
        }
        return mentions, quotes

    (whole_mentions, whole_quotes), (mentions, quotes) = found(whole), found(windowed)
    assert len(whole_mentions) > 100 and len(whole_quotes) > 10
    assert mentions == whole_mentions and quotes == whole_quotes
    for start, end, mention, _ in mentions:
        assert text[start:end] == mention
