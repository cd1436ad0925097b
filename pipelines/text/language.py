"""Language of an article, and the other languages its substantial paragraphs or title lines are in.

py3langid's model ships in its wheel, so nothing is downloaded; its cost grows with length, so only
samples are classified.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

LANGUAGE_MIN_CHARS = 20
# langid's cost grows with length; these samples decide the language as well as the whole text does.
ARTICLE_SAMPLE_CHARS = 2000
PARAGRAPH_SAMPLE_CHARS = 160
# A letter outside ASCII and the Latin-1/Latin Extended blocks: Cyrillic, Greek, CJK, Arabic, ...
_NON_LATIN_LETTER = re.compile(r"[^\W\d_A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
PARAGRAPH_MIN_WORDS = 8
MIXED_MIN_PROBABILITY = 0.99
MIXED_OTHER_SCRIPT_MIN_PROBABILITY = 0.8


class LanguageDetector:
    """py3langid with normalized probabilities; its model ships in the wheel, so nothing is downloaded."""

    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def classify(self, text: str) -> tuple[str | None, float]:
        if len(text.strip()) < LANGUAGE_MIN_CHARS and not _non_latin(text):
            return None, 0.0
        language, probability = self._identifier.classify(text)
        return language, float(probability)

    def language_of(self, text: str) -> str | None:
        return self.classify(text)[0]


@functools.lru_cache(maxsize=1)
def language_detector() -> LanguageDetector:
    return LanguageDetector()


def _non_latin(text: str) -> bool:
    return bool(_NON_LATIN_LETTER.search(text))


@dataclass(frozen=True, slots=True)
class LanguageResult:
    language: str | None
    confidence: float
    languages: list[str]
    mixed: bool


def detect_languages(body: Sequence[str], extra_lines: Sequence[str], detect: LanguageDetector) -> LanguageResult:
    """One language for the article, plus every other language a substantial paragraph or title line is in."""
    text = "\n".join(body)[:ARTICLE_SAMPLE_CHARS]
    language, confidence = detect.classify(text)
    seen: list[str] = [language] if language else []
    body_script_latin = not _non_latin(text)
    for paragraph in [*extra_lines, *body]:
        other_script = _non_latin(paragraph) == body_script_latin
        if len(paragraph.split()) < PARAGRAPH_MIN_WORDS and not other_script:
            continue
        other, probability = detect.classify(paragraph[:PARAGRAPH_SAMPLE_CHARS])
        needed = MIXED_OTHER_SCRIPT_MIN_PROBABILITY if other_script else MIXED_MIN_PROBABILITY
        if other and other not in seen and probability >= needed:
            seen.append(other)
    return LanguageResult(language, round(confidence, 4), seen, len(seen) > 1)
