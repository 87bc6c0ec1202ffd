"""Ground truth the pipeline never reads: true churn dates, future 12-month orders and revenue.

Why computed from the same orders: the truth window [end_date, end_date + 365) is simulated with exactly
the process that produced the history, so churn/LTV models are scored against what would really happen.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingestion.sandbox.shop import tables
from ingestion.sandbox.shop.catalog import GROUP_NAMES, Catalog
from ingestion.sandbox.shop.config import DAY_MS
from ingestion.sandbox.shop.customers import SEGMENTS


def customers_truth(
    customer_id: np.ndarray,
    person: np.ndarray,
    people,
    end_ms: int,
    horizon_ms: int,
    order_person: np.ndarray,
    order_created_ms: np.ndarray,
    order_net_cents: np.ndarray,
    order_cancelled: np.ndarray,
    first_order_ms: np.ndarray,
) -> pa.Table:
    """One row per customer that exists at end_date (first order before it)."""
    churn = people.churn_ms[person]
    alive_past = churn >= horizon_ms
    future = (order_created_ms >= end_ms) & (order_created_ms < horizon_ms) & ~order_cancelled
    slot = np.full(len(people), -1)
    slot[person] = np.arange(len(person))
    idx = slot[order_person[future]]
    ok = idx >= 0
    n_orders = np.bincount(idx[ok], minlength=len(person))
    net = np.bincount(idx[ok], weights=order_net_cents[future][ok], minlength=len(person)).astype(np.int64)
    return pa.table({
        "customer_id": pa.array(customer_id, pa.int64()),
        "true_churn_date": tables.date(churn // DAY_MS, null=alive_past),
        "next_12m_net_revenue": tables.money(net),
        "next_12m_orders": pa.array(n_orders, pa.int64()),
        "purchase_rate": pa.array(np.round(people.rate_per_day[person] * 365.0, 4), pa.float64()),
        "segment": pa.array([SEGMENTS[s] for s in people.segment[person].tolist()], pa.string()),
        "first_order_at": tables.ts(first_order_ms),
        "alive_at_end": pa.array(churn >= end_ms, pa.bool_()),
        "lifetime_days": pa.array(np.round((churn - people.arrival_ms[person]) / DAY_MS, 2), pa.float64()),
    })  # fmt: skip


def products_truth(cat: Catalog, visible: np.ndarray) -> pa.Table:
    """Affinity group and latent popularity of each product written to products.parquet."""
    return pa.table({
        "product_id": pa.array(cat.product_id[visible], pa.int64()),
        "affinity_group": pa.array([GROUP_NAMES[g] for g in cat.group[visible].tolist()], pa.string()),
        "repeatable": pa.array(cat.repeatable[visible], pa.bool_()),
        "popularity": pa.array(np.round(cat.popularity[visible], 6), pa.float64()),
    })  # fmt: skip
