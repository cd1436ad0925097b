"""Reading a response body with a cap on decoded bytes, so neither a huge body nor a gzip bomb is held.

Bodies are read raw and decompressed here (only the encodings we advertise), a bounded step at a time.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import httpx

from pipelines.http.outcome import FetchRefused, Outcome

# Only encodings decoded here with a cap; advertising br/zstd would hand us bodies we cannot bound.
ACCEPT_ENCODING = "gzip, deflate"
READ_CHUNK_BYTES = 16 * 1024
MAX_DECOMPRESS_STEP = 64 * 1024  # decoded bytes produced per zlib call, so a bomb never inflates at once
GZIP_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})
IDENTITY_ENCODINGS = frozenset({"", "identity"})


def _decompressor(encoding: str) -> Any:
    """A zlib stream for the response's Content-Encoding, None for identity; unknown codings refused."""
    coding = encoding.strip().lower()
    if coding in IDENTITY_ENCODINGS:
        return None
    if coding in GZIP_ENCODINGS:
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # +32: accept gzip or zlib headers
    raise FetchRefused(Outcome.DECODE_ERROR, f"unsupported Content-Encoding {encoding!r}")


def _inflate(decoder: Any, data: bytes, room: int) -> Iterator[bytes]:
    """Decoded pieces of `data`, at most `room`+1 bytes in all, a step at a time (bomb-safe)."""
    produced = 0
    while data and produced <= room:
        piece = decoder.decompress(data, MAX_DECOMPRESS_STEP)
        data = decoder.unconsumed_tail
        produced += len(piece)
        yield piece


def read_body(response: httpx.Response, max_bytes: int) -> tuple[bytes, int]:
    """The decoded body and its size; refuses past `max_bytes` decoded bytes without holding more."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused(Outcome.TOO_LARGE, f"Content-Length {declared} exceeds {max_bytes} bytes")
    decoder = _decompressor(response.headers.get("content-encoding", ""))
    parts: list[bytes] = []
    size = 0
    try:
        for raw in response.iter_raw(READ_CHUNK_BYTES):
            for piece in _inflate(decoder, raw, max_bytes - size) if decoder else (raw,):
                size += len(piece)
                if size > max_bytes:
                    raise FetchRefused(Outcome.TOO_LARGE, f"body exceeds {max_bytes} bytes (decoded)", size)
                parts.append(piece)
        tail = decoder.flush() if decoder is not None else b""
    except zlib.error as exc:
        note = f"corrupt {response.headers.get('content-encoding')} body: {exc}"
        raise FetchRefused(Outcome.DECODE_ERROR, note, size) from exc
    size += len(tail)
    if size > max_bytes:
        raise FetchRefused(Outcome.TOO_LARGE, f"body exceeds {max_bytes} bytes (decoded)", size)
    return b"".join([*parts, tail]), size
