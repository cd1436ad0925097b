"""Language detection with the real py3langid model: the article's language and the others it mixes in."""

from __future__ import annotations

from pipelines.text.language import detect_languages, language_detector

ENGLISH = [
    "The city council approved the new budget on Tuesday after a long debate about school funding.",
    "Council members said the vote was the closest in a decade, with seven in favour and six against.",
    "The mayor thanked residents who had written to the council and promised a review of the library plans.",
    "Opposition members said they would ask the regional court to examine how the final vote was counted.",
]
RUSSIAN = "Министр иностранных дел России встретится с коллегой из Японии в Москве в субботу"


def test_one_language_text_is_not_mixed() -> None:
    result = detect_languages(ENGLISH, [], language_detector())
    assert (result.language, result.languages, result.mixed) == ("en", ["en"], False)
    assert result.confidence > 0.9


def test_a_paragraph_in_another_script_makes_the_article_mixed() -> None:
    result = detect_languages([*ENGLISH, RUSSIAN], [], language_detector())
    assert result.language == "en"
    assert result.languages == ["en", "ru"] and result.mixed


def test_a_title_line_in_another_language_counts_too() -> None:
    result = detect_languages(ENGLISH, [RUSSIAN], language_detector())
    assert result.mixed and "ru" in result.languages


def test_too_short_latin_text_has_no_language_but_short_other_script_text_does() -> None:
    detect = language_detector()
    assert detect.classify("Budget passes") == (None, 0.0)
    assert detect.language_of("Лавров в Москве") == "ru"
