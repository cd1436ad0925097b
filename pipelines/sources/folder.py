"""The seed folder as a source: list its files, then read each into one `RawDocument` and its drafts.

Listing is separate from reading, and reading the bytes separate from the format readers
(`formats`). Nothing here writes. Every file becomes exactly one `RawDocument` whose status says
what happened to it, so nothing is lost silently; `read_file` never raises.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from pipelines.config import Settings
from pipelines.failures import refusal
from pipelines.ids import sha256_hex, stable_id
from pipelines.records import (
    ArticleDraft,
    RawDocument,
    Rejection,
    Source,
    SourceBatch,
    Status,
)
from pipelines.sources.formats import (
    MEDIA_TYPES,
    InputError,
    check_content,
    read_drafts,
)


@dataclass(slots=True)
class ReadResult:
    """One file read: its provenance row, the drafts in it, and the items (or the file) refused."""

    raw: RawDocument
    drafts: list[ArticleDraft] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def folder_source(folder: Path, name: str | None = None) -> Source:
    """A folder is identified by its name, so the same seeds mounted elsewhere (Docker, CI) keep their ids."""
    resolved = folder.resolve()
    source_name = name or resolved.name
    return Source(stable_id("folder", source_name), "folder", resolved.as_uri(), source_name)


def list_folder(folder: Path) -> list[Path]:
    """Every entry below `folder` that is not a directory, sorted, hidden files included (they get a skip reason)."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        found.extend(Path(root) / name for name in files)
    return sorted(found)


def read_file(path: Path, folder: Path, source: Source, settings: Settings) -> ReadResult:
    """Read one file into drafts; any failure becomes the file's quarantine reason instead of an exception."""
    uri = path.relative_to(folder).as_posix()
    fetched_at = datetime.now(UTC)
    media_type = MEDIA_TYPES.get(path.suffix.lower())
    try:
        data = _read_bytes(path, settings.max_file_bytes)
    except InputError as exc:
        raw_id = stable_id("raw", source.source_id, uri, "unreadable", str(exc))
        raw = RawDocument(
            raw_id,
            source.source_id,
            uri,
            fetched_at,
            None,
            _size_or_none(path),
            media_type,
            Status.QUARANTINED,
            str(exc),
        )
        return ReadResult(raw, rejections=[Rejection(raw_id, "read", str(exc))])
    digest = sha256_hex(data)
    raw_id = stable_id("raw", source.source_id, uri, digest)
    base = RawDocument(raw_id, source.source_id, uri, fetched_at, digest, len(data), media_type, Status.READ)
    if media_type is None:
        reason = (
            f"unsupported file type {path.suffix or '(no extension)'!r}; supported: {', '.join(sorted(MEDIA_TYPES))}"
        )
        return ReadResult(replace(base, status=Status.SKIPPED, reason=reason))
    try:
        drafts, rejections = read_drafts(data, base, path.suffix.lower())
    except Exception as exc:  # InputError says what is wrong; anything else is a reader's failure on this file
        reason = str(exc) if isinstance(exc, InputError) else refusal("reading", exc, uri)
        return ReadResult(
            replace(base, status=Status.QUARANTINED, reason=reason), rejections=[Rejection(raw_id, "parse", reason)]
        )
    if not drafts and not rejections:
        reason = "no articles in file"
        return ReadResult(
            replace(base, status=Status.QUARANTINED, reason=reason), rejections=[Rejection(raw_id, "parse", reason)]
        )
    return ReadResult(base, drafts, rejections)


def read_folder(folder: Path, paths: Sequence[Path], settings: Settings) -> SourceBatch:
    """Read `paths` (all of `folder`'s files, or one shard's) into one batch for the shared normalization path."""
    source = folder_source(folder)
    results = [read_file(path, folder, source, settings) for path in paths]
    return SourceBatch(
        source,
        [result.raw for result in results],
        [draft for result in results for draft in result.drafts],
        [rejection for result in results for rejection in result.rejections],
    )


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """Refuse oversized files before reading them, and turn OS errors into reasons."""
    try:
        if not path.is_file():
            raise InputError("not a regular file (broken link, device or socket)")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"file too large: {size:,} bytes, limit {max_bytes:,} (NEWSFLOW_MAX_FILE_BYTES)")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"unreadable: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise InputError(f"file too large: over {max_bytes:,} bytes (NEWSFLOW_MAX_FILE_BYTES)")
    check_content(data)
    return data
