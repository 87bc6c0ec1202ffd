"""The shop's promotion calendar as Prophet holidays.

Why explicit dates rather than only Prophet's country holidays: what moves this shop's demand is its
own retail calendar (the Black Friday lead-in week, Black Friday, the Cyber weekend and Cyber Monday,
December gifting, the Christmas lull; see ingestion/sandbox/shop/seasonality.py), not public holidays
as such. Each event is one named holiday with one coefficient shared by its days, so a single past
occurrence is enough to estimate it. Country holidays (the `holidays` package) can be added on top
through `Params.country_holidays` for a real shop.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd


def black_friday(year: int) -> dt.date:
    """The day after the fourth Thursday of November."""
    nov1 = dt.date(year, 11, 1)
    first_thursday = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7)
    return first_thursday + dt.timedelta(days=22)


def _days(start: dt.date, first: int, last: int) -> list[dt.date]:
    return [start + dt.timedelta(days=k) for k in range(first, last + 1)]


def shop_events(first_year: int, last_year: int) -> pd.DataFrame:
    """Prophet holidays frame (holiday, ds, lower_window, upper_window) for the years given."""
    rows: list[tuple[str, dt.date]] = []
    for year in range(first_year, last_year + 1):
        bf = black_friday(year)
        events = {
            "bfcm_lead_in": _days(bf, -7, -1),
            "black_friday": [bf],
            "cyber_weekend": _days(bf, 1, 2),
            "cyber_monday": [bf + dt.timedelta(days=3)],
            "cyber_week": _days(bf, 4, 6),
            "december_gifting": _days(dt.date(year, 12, 4), 0, 16),
            "christmas_lull": _days(dt.date(year, 12, 24), 0, 2),
        }
        rows += [(name, day) for name, days in events.items() for day in days]
    frame = pd.DataFrame(rows, columns=["holiday", "ds"])
    frame["ds"] = pd.to_datetime(frame["ds"])
    frame["lower_window"] = 0
    frame["upper_window"] = 0
    return frame
