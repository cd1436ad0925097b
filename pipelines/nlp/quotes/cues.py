"""The reviewed cue lexicon (schemas/cue_verbs.yaml), read once: which words report speech and which characterize.

The file lists base forms; this module expands them to every inflection, so attribution compares lower-case
token text and never needs a lemmatizer (the pipeline excludes it).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipelines.config import SCHEMAS_DIR

CUE_FILE = SCHEMAS_DIR / "cue_verbs.yaml"
VOWELS = "aeiou"


@dataclass(frozen=True, slots=True)
class CueLexicon:
    """Every form of each kind of cue word, lower case."""

    speech: frozenset[str]  # "said", "fumed", "chimed"
    characterize: frozenset[str]  # "called", "described", "likened"
    adjacent_only: frozenset[str]  # "continued": a cue only right beside its quote
    call: frozenset[str]  # forms of "call": "called for" demands, "called it …" characterizes
    document_verbs: frozenset[str]  # "show", "find": cues only with a document for subject
    statement_nouns: frozenset[str]  # "claim", "remarks": their possessor is the speaker
    document_nouns: frozenset[str]  # "report", "filings": their author is the speaker


def inflections(base: str, irregular: Iterable[str] = ()) -> set[str]:
    """Base, third person, past and -ing forms of a regular English verb, plus the listed irregular ones."""
    ing_stem = base if base.endswith("ee") else base.removesuffix("e")  # "noting", but "agreeing"
    consonant_y = base.endswith("y") and base[-2] not in VOWELS
    third = base[:-1] + "ies" if consonant_y else base + ("es" if base.endswith(("s", "sh", "ch", "x")) else "s")
    past = base[:-1] + "ied" if consonant_y else base + ("d" if base.endswith("e") else "ed")
    return {base, third, past, ing_stem + "ing", *irregular}


def _forms(bases: Iterable[str], irregular: Mapping[str, list[str]]) -> frozenset[str]:
    return frozenset(form for base in bases for form in inflections(base, irregular.get(base, ())))


@functools.cache
def cue_lexicon(path: Path = CUE_FILE) -> CueLexicon:
    """Read the lexicon file; a missing list fails here, naming the file, not mid-batch."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        irregular = spec.get("irregular") or {}
        return CueLexicon(
            speech=_forms(spec["speech"], irregular),
            characterize=_forms(spec["characterize"], irregular),
            adjacent_only=_forms(spec["adjacent_only"], irregular),
            call=_forms(["call"], irregular),
            document_verbs=_forms(spec["document_verbs"], irregular),
            statement_nouns=frozenset(spec["statement_nouns"]),
            document_nouns=frozenset(spec["document_nouns"]),
        )
    except KeyError as exc:
        raise ValueError(f"{path}: the cue lexicon has no list {exc.args[0]!r}") from exc
