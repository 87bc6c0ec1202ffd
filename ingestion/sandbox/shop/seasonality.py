"""Calendar effects: weekly and yearly seasonality, holiday peaks, time of day.

Why one module: arrivals, repeat purchases, browsing and ad spend all follow the same calendar, so the
marts' seasonality (and the demand forecast) have one consistent shape to find.
"""

from __future__ import annotations

import numpy as np

from ingestion.sandbox.shop.config import DAY_MS, START_DATE
from ingestion.sandbox.shop.rand import choice

# Monday .. Sunday: shoppers buy most on Sunday/Monday, least on Friday.
WEEKDAY = np.array([1.12, 1.04, 0.98, 0.95, 0.80, 0.90, 1.21])
# UTC hour-of-day profile (US evenings dominate).
HOURLY = np.array(
    [1.6, 1.5, 1.3, 1.0, 0.7, 0.45, 0.3, 0.25, 0.25, 0.3, 0.4, 0.55,
     0.7, 0.85, 1.0, 1.1, 1.2, 1.25, 1.3, 1.35, 1.45, 1.55, 1.65, 1.7]
)  # fmt: skip


def dates(days: np.ndarray) -> np.ndarray:
    """datetime64[D] of day offsets from START_DATE."""
    return START_DATE + np.asarray(days).astype("timedelta64[D]")


def _black_friday(year: int) -> np.datetime64:
    nov1 = np.datetime64(f"{year}-11-01")
    weekday = (nov1.astype("int64") + 3) % 7  # 0 = Monday
    first_thursday = nov1 + np.timedelta64((3 - weekday) % 7, "D")
    return first_thursday + np.timedelta64(22, "D")


def holiday_factor(days: np.ndarray) -> np.ndarray:
    """Multiplicative holiday effect: Black Friday / Cyber Monday, December gifting, Christmas lull."""
    d = dates(days)
    years = d.astype("datetime64[Y]").astype(int) + 1970
    month_day = (d - d.astype("datetime64[M]")).astype(int) + 1
    month = d.astype("datetime64[M]").astype(int) % 12 + 1
    f = np.ones(len(d))
    for year in np.unique(years):
        bf = _black_friday(int(year))
        off = (d - bf).astype(int)
        f = np.where((years == year) & (off >= -7) & (off < 0), f * 1.25, f)
        f = np.where((years == year) & (off == 0), f * 2.7, f)
        f = np.where((years == year) & (off >= 1) & (off <= 2), f * 1.8, f)
        f = np.where((years == year) & (off == 3), f * 2.3, f)
        f = np.where((years == year) & (off >= 4) & (off <= 6), f * 1.2, f)
    f = np.where((month == 12) & (month_day >= 4) & (month_day <= 20), f * 1.35, f)
    f = np.where((month == 12) & (month_day >= 24) & (month_day <= 26), f * 0.65, f)
    return f


def yearly_factor(days: np.ndarray) -> np.ndarray:
    """Smooth yearly cycle: high in Q4, low in mid-summer."""
    d = dates(days)
    doy = (d - d.astype("datetime64[Y]")).astype(int)
    return 1.0 + 0.18 * np.cos(2 * np.pi * (doy - 340) / 365.25)


def weekday_of(days: np.ndarray) -> np.ndarray:
    """0 = Monday."""
    return (dates(days).astype("int64") + 3) % 7


def demand(days: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Daily demand multiplier (weekly x yearly x holidays); `strength` < 1 flattens it (browsing)."""
    days = np.asarray(days)
    f = WEEKDAY[weekday_of(days)] * yearly_factor(days) * holiday_factor(days)
    return f**strength


def demand_max(strength: float = 1.0) -> float:
    """The maximum of `demand` over ten years, the envelope used for thinning."""
    return float(demand(np.arange(3660), strength).max()) * 1.0001


def time_of_day_ms(u_hour: np.ndarray, u_within: np.ndarray) -> np.ndarray:
    """Milliseconds since midnight following the hourly profile."""
    hour = choice(HOURLY, u_hour)
    return (hour * 3_600_000 + np.floor(u_within * 3_600_000)).astype(np.int64)


def day_of(t_ms: np.ndarray) -> np.ndarray:
    """Day offset of a millisecond timestamp (relative to START_DATE)."""
    return np.floor_divide(t_ms, DAY_MS)
