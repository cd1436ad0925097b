"""How often a feed publishes, learned from its items' dates, and the poll interval that follows from it.

A feed lists its newest items; the gaps between their publication times say how often it publishes.
Each poll that reads the feed observes the median gap (robust to a burst of items published at once
and to one long silence), and the learned value moves towards it by a fixed weight (an exponentially
weighted moving average), so one odd poll does not swing the schedule. A feed that went quiet teaches
through its silence: when the newest item is older than the learned interval, that silence is observed
too (also on a 304 or an unchanged body, from the newest date stored), so the feed is polled less often.
All of it is a pure function of the dates and what was learned before: the same polls learn the same interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median

RECENT_ITEMS = 20  # the newest distinct publication times one poll learns from
MIN_GAPS = 2  # fewer gaps (three distinct times) say nothing about a rhythm
SMOOTHING = 0.3  # the weight of a poll's observation against what was learned before
CLOCK_SKEW = timedelta(hours=1)  # item dates further in the future than this are wrong, not early


def observed_minutes(published: Iterable[datetime | None], now: datetime) -> float | None:
    """The median gap in minutes between the newest distinct publication times; None when the dates are too few.

    Items stamped with one time (a burst, or a feed that dates every item with its build time) count
    once: one poll collects them all.
    """
    times = sorted({when for when in published if when is not None and when <= now + CLOCK_SKEW}, reverse=True)
    gaps = [(newer - older).total_seconds() / 60 for newer, older in pairwise(times[: RECENT_ITEMS + 1])]
    return median(gaps) if len(gaps) >= MIN_GAPS else None


def newest_item(published: Iterable[datetime | None], stored: datetime | None, now: datetime) -> datetime | None:
    """The newest item date known: this poll's items (dates past now + CLOCK_SKEW are wrong) or the stored one."""
    times = [when for when in published if when is not None and when <= now + CLOCK_SKEW]
    return max([*times, *([stored] if stored else [])], default=None)


def observe(
    published: Iterable[datetime | None], newest: datetime | None, current_minutes: float, ceiling: int, now: datetime
) -> float | None:
    """What one poll observed: the median gap of its items, or the silence since the `newest` item when that is
    longer than the `current_minutes` interval (a gap still open is at least that long), whichever is longer.

    The silence counts up to `ceiling`, the longest interval the feed may be polled at: a year of silence
    would change nothing but how many polls it takes to follow the feed once it publishes again.
    """
    gap = observed_minutes(published, now)
    silence = min((now - newest).total_seconds() / 60, ceiling) if newest is not None else None
    quiet = silence if silence is not None and silence > current_minutes else None
    return max((minutes for minutes in (gap, quiet) if minutes is not None), default=None)


def learn(previous: float | None, observed: float | None) -> float | None:
    """The learned interval after one observation (none: unchanged; the first one is taken as it is)."""
    if observed is None or previous is None:
        return previous if observed is None else observed
    return previous + SMOOTHING * (observed - previous)


def poll_interval(learned: float | None, default_minutes: int, bounds: tuple[int, int]) -> timedelta:
    """The next poll's interval: the learned one in whole minutes (else the configured default), within bounds."""
    low, high = bounds
    minutes = default_minutes if learned is None else round(learned)
    return timedelta(minutes=min(max(minutes, low), high))
