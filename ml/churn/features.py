"""Reading the point-in-time features and the orders the labels come from (shared by churn and LTV).

Why here and not in dbt: `marts.ml_customer_features` holds only what was known strictly before each
snapshot; labels look *after* it, so they are built in Python from `marts.fct_orders` with an explicit
window, which the leakage tests can pin down.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import psycopg

from ml.core import read_frame

# identifiers and raw timestamps are not features; the channel is one-hot encoded below
NON_FEATURES = ("customer_id", "snapshot_date", "first_order_at", "last_order_at", "acquisition_channel")
# fixed list (the mart's accepted values) so train and predict always get the same one-hot columns
CHANNELS = (
    "Paid Social",
    "Paid Search",
    "Organic Search",
    "Organic Social",
    "Email",
    "Referral",
    "Direct",
    "Display",
    "Affiliates",
    "Unassigned",
    "Unattributed",
)

READABLE = {
    "recency_days": "Days since last order",
    "tenure_days": "Days since first order",
    "frequency": "Orders to date",
    "orders_90d": "Orders in last 90 days",
    "orders_365d": "Orders in last 365 days",
    "gross_revenue": "Gross revenue to date",
    "refunded_amount": "Refunded amount",
    "monetary": "Net revenue to date",
    "average_order_value": "Average order value",
    "discount_share": "Discount share of spend",
    "discounted_order_share": "Share of orders with a discount",
    "refund_share": "Refund share of spend",
    "sessions_30d": "Sessions in last 30 days",
    "sessions_90d": "Sessions in last 90 days",
    "product_view_sessions_30d": "Sessions viewing products (30 days)",
    "product_view_sessions_90d": "Sessions viewing products (90 days)",
    "add_to_cart_sessions_30d": "Sessions with add-to-cart (30 days)",
    "add_to_cart_sessions_90d": "Sessions with add-to-cart (90 days)",
    "checkout_sessions_30d": "Sessions reaching checkout (30 days)",
    "checkout_sessions_90d": "Sessions reaching checkout (90 days)",
    "days_since_last_session_90d": "Days since last visit",
}


def snapshot_at(day: dt.date) -> pd.Timestamp:
    """A snapshot date's instant: UTC midnight, as the mart defines it."""
    return pd.Timestamp(day).tz_localize("UTC")


def load_features(conn: psycopg.Connection, as_of: dt.date) -> pd.DataFrame:
    """Every feature row whose snapshot is on or before `as_of`."""
    frame = read_frame(
        conn,
        "select * from marts.ml_customer_features where snapshot_date <= %(as_of)s "
        "order by snapshot_date, customer_id",
        {"as_of": as_of},
    )
    if len(frame):
        frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    return frame


def load_orders(conn: psycopg.Connection, as_of: dt.date) -> pd.DataFrame:
    """Non-cancelled customer orders placed before `as_of` (today: nothing later may be used)."""
    frame = read_frame(
        conn,
        "select customer_id, ordered_at, net_revenue from marts.fct_orders "
        "where not is_cancelled and customer_id is not null and ordered_at < %(at)s "
        "order by customer_id, ordered_at",
        {"at": snapshot_at(as_of).to_pydatetime()},
    )
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    frame["net_revenue"] = frame["net_revenue"].astype(float)
    return frame


def feature_matrix(frame: pd.DataFrame, feature_names: list[str] | None = None) -> pd.DataFrame:
    """Model inputs: every non-identifier column as float plus one-hot acquisition channels. Given
    `feature_names` (the training columns), the result has exactly those columns (absent ones are 0,
    e.g. a category that did not exist yet)."""
    numeric = frame.drop(columns=[c for c in NON_FEATURES if c in frame.columns]).astype(float)
    channel = frame.get("acquisition_channel", pd.Series("Unattributed", index=frame.index))
    for name in CHANNELS:
        numeric[_channel_column(name)] = (channel == name).astype(float).to_numpy()
    if feature_names is not None:
        numeric = numeric.reindex(columns=feature_names, fill_value=0.0)
    return numeric


def _channel_column(name: str) -> str:
    return "channel_" + name.lower().replace(" ", "_")


def readable(feature: str) -> str:
    """A feature's name as a person would say it."""
    if feature in READABLE:
        return READABLE[feature]
    if feature.startswith("category_share_"):
        return "Share of spend on " + feature.removeprefix("category_share_").replace("_", " ")
    if feature.startswith("channel_"):
        return "Acquired via " + feature.removeprefix("channel_").replace("_", " ")
    return feature.replace("_", " ").capitalize()


def describe(feature: str, value: float) -> str:
    """`Days since last order = 143`-style text for one customer's feature value."""
    label = readable(feature)
    if feature.startswith("channel_"):
        return label if value == 1 else "Not " + label[0].lower() + label[1:]
    if value is None or np.isnan(value):
        return f"{label}: none"
    if "share" in feature:
        return f"{label}: {value:.0%}"
    return f"{label}: {value:,.0f}" if abs(value) >= 10 else f"{label}: {value:.2g}"
