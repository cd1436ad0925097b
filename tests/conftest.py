"""Shared fixtures. Tests needing something a laptop may lack skip with a reason, and fail under NEWSFLOW_STRICT=1 (CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = PROJECT_ROOT.parent / "shared"


def strict() -> bool:
    return os.environ.get("NEWSFLOW_STRICT") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip when `condition` is false, or fail in strict mode, where every optional resource must be present."""
    if condition:
        return
    if strict():
        pytest.fail(f"NEWSFLOW_STRICT=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared data folder beside the checkout (gold files and corpora); absent on a user's fresh clone."""
    require(SHARED_DIR.is_dir(), f"{SHARED_DIR} (the shared test corpora) is not present")
    return SHARED_DIR


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return PROJECT_ROOT / "seeds"
