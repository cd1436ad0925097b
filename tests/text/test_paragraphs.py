"""Paragraph splitting and line cleaning: the form every later text rule and stored offset relies on."""

from __future__ import annotations

from pipelines.text.paragraphs import clean_line, line_key, split_paragraphs


def test_paragraphs_keep_lines_and_join_hard_wrapped_blocks() -> None:
    wrapped = (
        "The quick brown fox jumped over the lazy dog while the farmer\n"
        "watched from the porch and wondered whether the fence would\n"
        "hold through another winter of storms and wandering animals.\n"
    )
    assert split_paragraphs(wrapped) == [" ".join(line.strip() for line in wrapped.strip().splitlines())]
    assert split_paragraphs("First line.\nSecond line.\n\n\nThird\u00a0 line.") == [
        "First line.",
        "Second line.",
        "Third line.",
    ]


def test_clean_line_composes_drops_invisible_characters_and_collapses_spaces() -> None:
    assert clean_line("  Cafe\u0301\u200b\u00ad   opens\u00a0\u2009today ") == "Caf\u00e9 opens today"


def test_windows_and_old_mac_line_ends_and_unicode_separators_split_like_newlines() -> None:
    assert split_paragraphs("One.\r\nTwo.\rThree.\u2029Four.") == ["One.", "Two.", "Three.", "Four."]


def test_line_key_ignores_case_only() -> None:
    assert line_key("Sign In To Read") == line_key("sign in to read") != line_key("sign in to read.")
