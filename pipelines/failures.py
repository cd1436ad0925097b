"""What an unexpected exception means: one input's fault, refused with a reason, or the batch's, failing the run.

Every per-input step (read, extract, normalize, annotate) turns an exception it did not foresee into that
input's quarantine reason, so one pathological file never stops the others. A few errors are never an
input's: the machine is out of memory or disk, the disk failed, or the database did. Those still fail the run.
"""

from __future__ import annotations

import errno

# OS errors that are the machine's, whatever the input: out of space or quota, read-only, I/O failure.
BATCH_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.ENOMEM})
# How much of an exception's message a quarantine reason keeps (a message may quote a whole input).
MESSAGE_CHARS = 300


def is_batch_failure(exc: BaseException) -> bool:
    """Whether `exc` is the batch's to fail on rather than one input's to be refused for."""
    if not isinstance(exc, Exception) or isinstance(exc, MemoryError):
        return True
    if isinstance(exc, OSError) and exc.errno in BATCH_ERRNOS:
        return True
    return type(exc).__module__.split(".")[0] in {"duckdb", "_duckdb"}


def refusal(step: str, exc: BaseException, uri: str | None) -> str:
    """The quarantine reason for input `uri` that `step` failed on (what failed, the error in one short line).

    Call it in the step's `except` block: when `exc` is the batch's (`is_batch_failure`), it is raised again,
    noting the input it happened on, so the run's error names it.
    """
    if is_batch_failure(exc):
        exc.add_note(f"while {step} {uri or 'an input'}")
        raise exc
    return f"{step} failed on this input: {_one_line(exc)}"


def describe(exc: BaseException) -> str:
    """A run's error in one line: the exception, then the notes that say where it happened (the input's uri)."""
    notes = "; ".join(getattr(exc, "__notes__", ()))
    return _one_line(exc) + (f" ({notes})" if notes else "")


def _one_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    if len(message) > MESSAGE_CHARS:
        message = message[: MESSAGE_CHARS - 1] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
