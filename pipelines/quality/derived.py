"""The derived columns the suites' `meta.derived_columns` declare: values a row is checked against but does not store.

GX compares columns within one frame, so cross-row facts (the body a mention points into, whether a
quote's speaker is a known entity) are added to the frame first, from the rows that will load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from pipelines.urls import InvalidUrlError, canonical_url


def _word_count(text: object) -> int | None:
    return len(text.split()) if isinstance(text, str) else None


def _slice(body: object, start: float | None, end: float | None) -> str | None:
    if not isinstance(body, str) or start is None or end is None or pd.isna(start) or pd.isna(end):
        return None
    return body[int(start) : int(end)]


def _bodies(frame: pd.DataFrame, loaded: Mapping[str, pd.DataFrame]) -> list[str | None]:
    """Each row's article body among the articles that will load; None when the article is not there.

    A plain list of the same string objects: a Series would copy every body once per mention.
    """
    articles = loaded.get("articles", pd.DataFrame(columns=["article_id", "body_text"]))
    body_of = dict(zip(articles["article_id"], articles["body_text"], strict=True))
    return [body_of.get(article_id) for article_id in frame["article_id"]]


def _lengths(bodies: list[str | None]) -> pd.api.extensions.ExtensionArray:
    """Body lengths, missing where the body is; always integers, even for an empty or all-missing column
    (a column typed as text would make the suite's offset comparisons fail the whole batch)."""
    return pd.array([len(body) if isinstance(body, str) else None for body in bodies], dtype="Int64")


def _known_entity_ids(loaded: Mapping[str, pd.DataFrame]) -> set[str]:
    return {
        entity_id
        for table in ("entities", "entity_mentions")
        if table in loaded
        for entity_id in loaded[table]["entity_id"].dropna()
    }


def _canonical(url: object) -> str | None:
    try:
        return canonical_url(url) if isinstance(url, str) else None
    except InvalidUrlError:
        return None


def _derive_articles(frame: pd.DataFrame, loaded: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    return frame.assign(
        body_word_count=frame["body_text"].map(_word_count),
        url_canonical=frame["url"].map(_canonical),
    )


def _derive_mentions(frame: pd.DataFrame, loaded: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    bodies = _bodies(frame, loaded)
    slices = [_slice(*values) for values in zip(bodies, frame["start_char"], frame["end_char"], strict=True)]
    return frame.assign(body_length=_lengths(bodies), body_slice=slices)


def _derive_quotes(frame: pd.DataFrame, loaded: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    known = _known_entity_ids(loaded)
    speakers = [None if pd.isna(speaker) else speaker in known for speaker in frame["speaker_entity_id"]]
    return frame.assign(body_length=_lengths(_bodies(frame, loaded)), speaker_entity_known=speakers)


Deriver = Callable[[pd.DataFrame, Mapping[str, pd.DataFrame]], pd.DataFrame]
DERIVED_COLUMNS: dict[str, Deriver] = {
    "articles": _derive_articles,
    "entity_mentions": _derive_mentions,
    "quotes": _derive_quotes,
}


def with_derived_columns(table: str, frame: pd.DataFrame, loaded: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The frame its suite validates: the staged columns plus the table's derived ones, if it declares any."""
    derive = DERIVED_COLUMNS.get(table)
    return derive(frame, loaded) if derive else frame
