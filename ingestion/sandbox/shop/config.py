"""Sizes of the simulated shop and the constants every module of the generator shares.

Why the sizes live apart from the code: tests, the demo and the benchmarks pick a size by name, and the
calibration (arrivals per day, catalog size) must be a function of the size only, never of the number of
days actually generated, so that a 399-day world is the first 399 days of a 400-day one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VERSION = "shop-1"
START_DATE = np.datetime64("2024-11-01", "D")
TRUTH_HORIZON_DAYS = 365
DAY_MS = 86_400_000
SESSION_GAP_MS = 30 * 60 * 1000


@dataclass(frozen=True)
class SizeConfig:
    """Calibration of one size; `buyers`/`visitors` are targets over the default `days`."""

    name: str
    days: int
    buyers: int
    visitors: int
    products: int
    ads_per_adset: int
    events_per_file: int


SIZES: dict[str, SizeConfig] = {
    "tiny": SizeConfig("tiny", days=240, buyers=400, visitors=2_000, products=40, ads_per_adset=2,
                       events_per_file=250_000),
    "small": SizeConfig("small", days=365, buyers=5_000, visitors=25_000, products=120, ads_per_adset=3,
                        events_per_file=250_000),
    "large": SizeConfig("large", days=730, buyers=60_000, visitors=300_000, products=300, ads_per_adset=4,
                        events_per_file=25_000),
}  # fmt: skip
