"""GA4's own daily view of the traffic: close to, but never equal to, the first-party numbers.

Why different: GA4 is blocked by the same browsers that block our tracker plus consent refusals, and its
reports are modelled/sampled; a fixed per-day noise stream imitates that deterministically.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ingestion.sandbox.shop.rand import day_rng

STREAM_GA4 = 41
DIMENSIONS = ["day", "session_source", "session_medium", "session_campaign_name", "device_category"]


def ga4_daily(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Aggregate visible sessions (one row each: dims + flags + revenue + user/new-user flags) by day."""
    g = (
        frame.groupby(DIMENSIONS, sort=True)
        .agg(
            sessions=("engaged", "size"), engaged_sessions=("engaged", "sum"), add_to_carts=("added", "sum"),
            checkouts=("checkout", "sum"), ecommerce_purchases=("purchased", "sum"),
            purchase_revenue=("revenue", "sum"), total_users=("user", "nunique"), new_users=("new_user", "sum"),
        )
        .reset_index()
    )  # fmt: skip
    out = []
    for day, part in g.groupby("day", sort=True):
        part = part.copy()
        rng = day_rng(seed, int(day), STREAM_GA4)
        noise = 1.0 + 0.05 * rng.standard_normal((len(part), 3))
        for c in ("sessions", "engaged_sessions", "total_users"):
            part[c] = np.maximum(np.round(part[c] * noise[:, 0]), 0).astype(np.int64)
        for c in ("add_to_carts", "checkouts"):
            part[c] = np.maximum(np.round(part[c] * noise[:, 1]), 0).astype(np.int64)
        part["new_users"] = np.minimum(np.round(part["new_users"] * noise[:, 0]), part["total_users"]).astype(
            np.int64
        )
        part["engaged_sessions"] = np.minimum(part["engaged_sessions"], part["sessions"])
        part["ecommerce_purchases"] = part["ecommerce_purchases"].astype(np.int64)
        part["purchase_revenue"] = np.round(part["purchase_revenue"] * noise[:, 2].clip(0.9, 1.1), 2)
        out.append(part)
    return pd.concat(out, ignore_index=True) if out else g
