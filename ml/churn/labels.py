"""Labels from the future and the time split (shared by churn and LTV).

A row (customer, snapshot_date) looks at orders in the half-open window
[snapshot_at, snapshot_at + horizon): nothing before the snapshot (that is what the features saw) and
nothing after the horizon. The split is in time: validate on the latest snapshot whose horizon is
complete by `as_of`, train on snapshots whose whole label window closes by the validation snapshot, so
no training label peeks into the validation period.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ml.churn.features import snapshot_at
from ml.core import InsufficientData


def _epoch_ms(stamps: pd.Series) -> np.ndarray:
    delta = pd.Series(pd.to_datetime(stamps, utc=True)).reset_index(drop=True) - pd.Timestamp(0, tz="UTC")
    return (delta // pd.Timedelta(milliseconds=1)).to_numpy(dtype=np.int64)


def future_window(rows: pd.DataFrame, orders: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """For each row of `rows` (customer_id, snapshot_date), the number of orders and their summed
    net revenue in [snapshot_at, snapshot_at + horizon_days). Same index as `rows`."""
    if not len(rows):
        return pd.DataFrame({"future_orders": [], "future_revenue": []}, index=rows.index)
    codes = pd.Index(
        pd.unique(np.concatenate([rows["customer_id"].to_numpy(), orders["customer_id"].to_numpy()]))
    )
    # one sorted key per order, (customer code, ms since epoch): each window is a searchsorted range
    span = np.int64(2**42)  # ms since epoch stay below 2**42 until the year 2109
    o_key = codes.get_indexer(orders["customer_id"]).astype(np.int64) * span + _epoch_ms(orders["ordered_at"])
    order = np.argsort(o_key, kind="stable")
    o_key = o_key[order]
    cum = np.concatenate([[0.0], np.cumsum(orders["net_revenue"].to_numpy(dtype=float)[order])])
    starts = pd.Series([snapshot_at(d) for d in rows["snapshot_date"]], dtype="datetime64[ns, UTC]")
    r_key = codes.get_indexer(rows["customer_id"]).astype(np.int64) * span + _epoch_ms(starts)
    lo = np.searchsorted(o_key, r_key, side="left")
    hi = np.searchsorted(o_key, r_key + np.int64(horizon_days) * 86_400_000, side="left")
    return pd.DataFrame({"future_orders": hi - lo, "future_revenue": cum[hi] - cum[lo]}, index=rows.index)


def churn_labels(rows: pd.DataFrame, orders: pd.DataFrame, horizon_days: int) -> pd.Series:
    """1 when the customer places no (non-cancelled) order in the horizon after the snapshot."""
    return (future_window(rows, orders, horizon_days)["future_orders"] == 0).astype(int)


def time_split(snapshot_dates, as_of: dt.date, horizon_days: int) -> tuple[list[dt.date], dt.date]:
    """(training snapshots, validation snapshot). Raises ValueError if either would be empty."""
    dates = sorted(set(snapshot_dates))
    horizon = dt.timedelta(days=horizon_days)
    complete = [d for d in dates if d + horizon <= as_of]
    if not complete:
        raise ValueError(f"no snapshot before {as_of} has a complete {horizon_days}-day horizon")
    validation = complete[-1]
    train = [d for d in complete if d + horizon <= validation]
    if not train:
        raise ValueError(
            f"no training snapshot: none has its {horizon_days}-day label window closed by the "
            f"validation snapshot {validation}"
        )
    return train, validation


def split_or_skip(features: pd.DataFrame, as_of: dt.date, horizon_days: int) -> tuple[list[dt.date], dt.date]:
    """`time_split` of the feature snapshots, or InsufficientData saying what the history lacks: no
    snapshot at all (no orders: the shop has no order source, or nothing is loaded yet), or too few
    snapshots old enough for a complete label window on both sides of the split."""
    if not len(features):
        raise InsufficientData(
            f"marts.ml_customer_features has no snapshot on or before {as_of} (no orders: no order "
            "source is configured, or none is loaded yet)",
            snapshots=0,
            required_horizon_days=horizon_days,
        )
    dates = sorted(set(features["snapshot_date"]))
    try:
        return time_split(dates, as_of, horizon_days)
    except ValueError as exc:
        raise InsufficientData(
            f"{exc} (snapshots {dates[0]}..{dates[-1]}): a label needs {horizon_days} days of orders "
            "after its snapshot, for a validation snapshot and an earlier training one",
            snapshots=len(dates),
            first_snapshot=str(dates[0]),
            last_snapshot=str(dates[-1]),
            required_horizon_days=horizon_days,
        ) from exc
