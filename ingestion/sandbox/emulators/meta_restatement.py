"""How much of a day's Meta conversions the API reports k days later: the single definition of the
restatement curve shared by the Meta emulator and its tests.

Meta attributes purchases to the ad day for up to 28 days (7-day click, 1-day view, plus delayed
pixel/CAPI events), so a day's conversions keep growing after the day: a connector must re-pull a
window of recent days or it keeps the first, too-low numbers forever.
"""

from __future__ import annotations

from datetime import date

RESTATEMENT_DAYS = 28
FIRST_DAY_SHARE = 0.62  # share of the final conversions already reported the day after


def restatement_fraction(days_after: int) -> float:
    """Share of day d's final conversions reported on day d + `days_after`.

    0 before the day is over, then monotone non-decreasing, exactly 1.0 from `RESTATEMENT_DAYS` on.
    """
    if days_after <= 0:
        return 0.0
    if days_after >= RESTATEMENT_DAYS:
        return 1.0
    remaining = (RESTATEMENT_DAYS - days_after) / (RESTATEMENT_DAYS - 1)
    return 1.0 - (1.0 - FIRST_DAY_SHARE) * remaining**2


def reported_fraction(day: date, as_of: date) -> float:
    """`restatement_fraction` for a calendar day seen from the reporting date `as_of`."""
    return restatement_fraction((as_of - day).days)
