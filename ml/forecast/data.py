"""Daily demand series per product category and in total, from marts.fct_order_items.

Why line items: units and revenue per category only exist at line level. Demand is net: cancelled
orders are left out, refunded quantities are subtracted from units and `net_amount` (after discounts
and refunds) is the revenue, so the total is the sum of the categories (it differs from
fct_orders.net_revenue by shipping and taxes, which belong to no category). Days without sales are
zeros, never gaps, so a weekly lag is always seven rows back.

Shops without a product taxonomy (an imported order history: every product 'uncategorised'; a line
without a product: no category) get the total alone: a single 'uncategorised' series would only
repeat it. Too short a history, or no line items at all, is `InsufficientData`: the backtest needs
two weeks of history before its latest origin to score anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import psycopg

from ml.core import InsufficientData, read_frame, to_date
from ml.forecast.metrics import WEEK

TOTAL = "total"
MEASURES = ("units", "revenue")
UNCATEGORISED = "uncategorised"  # dbt's category of a product without one (e.g. imported orders)
MIN_FIT_DAYS = 2 * WEEK  # the least history a backtest origin is scored with (see backtest.py)

DAILY_SQL = """
select
    order_date as ds,
    coalesce(category, 'uncategorised') as category,
    sum(quantity - refunded_quantity)::double precision as units,
    sum(net_amount)::double precision as revenue
from marts.fct_order_items
where not is_cancelled and order_date < %(as_of)s
group by 1, 2
"""


SERIES_SQL = """
select distinct coalesce(category, 'uncategorised') as category
from marts.fct_order_items
where not is_cancelled and order_date < %(as_of)s
"""


def series_with_sales(conn: psycopg.Connection, as_of: dt.date) -> set[str]:
    """The series that have any sale before `as_of`: their categories and 'total' (empty: none)."""
    categories = {row[0] for row in conn.execute(SERIES_SQL, {"as_of": as_of}).fetchall()}
    return categories | {TOTAL} if categories else set()


@dataclass
class TrainingSet:
    """Dense daily series: one row per (ds, category) from the first sale to as_of - 1, 'total' included."""

    as_of: dt.date
    daily: pd.DataFrame  # ds (datetime64), category, units, revenue

    @property
    def categories(self) -> list[str]:
        return sorted(self.daily["category"].unique(), key=lambda c: (c != TOTAL, c))

    def series(self, category: str, measure: str) -> pd.DataFrame:
        """Prophet's frame (ds, y) of one series, ordered by day."""
        rows = self.daily[self.daily["category"] == category].sort_values("ds")
        return pd.DataFrame({"ds": rows["ds"].to_numpy(), "y": rows[measure].to_numpy()})


def densify(raw: pd.DataFrame, end: dt.date) -> pd.DataFrame:
    """Fill every (day, category) between the first sale and `end` (inclusive), add the 'total' series."""
    if raw.empty:
        return pd.DataFrame(columns=["ds", "category", *MEASURES])
    raw = raw.assign(ds=pd.to_datetime(raw["ds"]))
    days = pd.date_range(raw["ds"].min(), pd.Timestamp(end), freq="D", name="ds")
    wide = raw.pivot_table(index="ds", columns="category", values=list(MEASURES), aggfunc="sum")
    wide = wide.reindex(days).fillna(0.0)
    long = wide.stack("category", future_stack=True).reset_index()
    total = long.groupby("ds", as_index=False)[list(MEASURES)].sum().assign(category=TOTAL)
    out = pd.concat([total, long], ignore_index=True)[["ds", "category", *MEASURES]]
    return out.fillna(0.0).sort_values(["category", "ds"], ignore_index=True)


def build_training_set(conn: psycopg.Connection, as_of: dt.date | str, params=None) -> TrainingSet:
    """Everything sold before `as_of` (the sandbox's today; the data ends the day before). Raises
    InsufficientData without sales or with fewer days than `backtest_horizon_days` + two weeks."""
    if params is None:
        from ml.forecast.model import Params

        params = Params()
    as_of = to_date(as_of)
    raw = read_frame(conn, DAILY_SQL, {"as_of": as_of})
    if raw.empty:
        raise InsufficientData(
            f"marts.fct_order_items has no sales before {as_of} (no order source with line items: "
            "orders without items carry no units or categories)",
            history_days=0,
            required_days=params.backtest_horizon_days + MIN_FIT_DAYS,
        )
    daily = densify(raw, as_of - dt.timedelta(days=1))
    if set(raw["category"]) == {UNCATEGORISED}:  # no taxonomy: the total alone
        daily = daily[daily["category"] == TOTAL].reset_index(drop=True)
    history_days = int(daily["ds"].nunique())
    required = params.backtest_horizon_days + MIN_FIT_DAYS
    if history_days < required:
        first = daily["ds"].min().date()
        raise InsufficientData(
            f"{history_days} days of sales history ({first}..{as_of - dt.timedelta(days=1)}); the forecast "
            f"needs {required}: {MIN_FIT_DAYS} days before its latest backtest origin "
            f"(as_of - {params.backtest_horizon_days} days) to fit and score one origin",
            history_days=history_days,
            required_days=required,
            first_sale=str(first),
        )
    return TrainingSet(as_of=as_of, daily=daily)
