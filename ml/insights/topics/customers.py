"""Customer context: churn-risk bands with their most frequent driver features, and predicted LTV by
acquisition channel. Sources: ml.churn_scores, ml.ltv_predictions (built by the ML assets) and
marts.dim_customers (acquisition channel). Customer ids are only join keys: nothing per person leaves
SQL, and groups smaller than MIN_GROUP_SIZE are folded into 'Other'."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from ml.insights.topics.common import MIN_GROUP_SIZE, is_empty, no_data, num, shop_currency, table_exists

TOPIC = "customers"
TOP_DRIVERS = 3
# ml.churn (model.top_drivers) writes a driver as "<feature>: <value> (raises|lowers risk)", e.g. "Days
# since last visit: none (raises risk)", or for a channel "Acquired via x (...)" / "Not acquired via x
# (...)". Drivers are grouped on the feature (the value would split one reason into thousands), and a
# channel and its negation are one feature; each customer has a feature at most once among its three.
DRIVER_FEATURE = r"""trim(regexp_replace(regexp_replace(split_part(driver, ':', 1),
    '\s*\((raises|lowers) risk\)\s*$', ''), '^Not acquired via ', 'Acquired via '))"""


def _latest_snapshot(conn: psycopg.Connection, table: str, run_date: dt.date) -> dt.date | None:
    """The newest scores known at the end of `run_date`. A snapshot dated D is built from data strictly
    before D 00:00 UTC (marts.ml_customer_features), i.e. it is the state at the end of D - 1; so the
    run date's own end-of-day snapshot is dated run_date + 1. Without that day, the night of the 1st
    of a month (ML scores as of the 1st, insights for the last day of the month before) would find no
    scores at all."""
    return conn.execute(
        f"select max(snapshot_date) from {table} where snapshot_date <= %s",
        (run_date + dt.timedelta(days=1),),
    ).fetchone()[0]


def _churn(conn: psycopg.Connection, snap: dt.date) -> dict[str, Any]:
    bands = conn.execute(
        """
        select risk_band, count(*) as customers, avg(churn_probability) as avg_probability
        from ml.churn_scores where snapshot_date = %s
        group by risk_band order by avg(churn_probability) desc
        """,
        (snap,),
    ).fetchall()
    drivers = conn.execute(
        f"""
        select risk_band, {DRIVER_FEATURE} as feature, count(*) as customers
        from ml.churn_scores
        cross join lateral (values (driver_1), (driver_2), (driver_3)) as d (driver)
        where snapshot_date = %s and driver is not null
        group by 1, 2
        having count(*) >= %s
        order by risk_band, count(*) desc, feature
        """,
        (snap, MIN_GROUP_SIZE),
    ).fetchall()
    total = sum(b[1] for b in bands)
    out: dict[str, Any] = {"snapshot_date": snap.isoformat(), "customers_scored": total, "bands": {}}
    for band, n, avg_p in bands:
        if n < MIN_GROUP_SIZE:
            continue
        top = [{"feature": f, "customers": c} for b, f, c in drivers if b == band][:TOP_DRIVERS]
        out["bands"][str(band)] = {
            "customers": n,  # the features' counts below are customers of this band too
            "share": num(n / total) if total else None,
            "avg_churn_probability": num(avg_p),
            "top_drivers": top,
        }
    return out


def _ltv(conn: psycopg.Connection, snap: dt.date) -> dict[str, Any]:
    rows = conn.execute(
        """
        select coalesce(c.first_touch_channel, 'Unattributed') as channel, count(*) as customers,
               avg(p.predicted_ltv) as avg_ltv, sum(p.predicted_ltv) as total_ltv
        from ml.ltv_predictions as p
        left join marts.dim_customers as c on c.customer_id = p.customer_id
        where p.snapshot_date = %s
        group by 1
        """,
        (snap,),
    ).fetchall()
    channels: dict[str, dict[str, float]] = {}
    other = [0, 0.0]
    for channel, n, _avg, total in rows:
        if n < MIN_GROUP_SIZE:
            other[0] += n
            other[1] += float(total or 0)
            continue
        channels[channel] = {
            "customers": n,
            "avg_predicted_ltv": num(_avg, 2),
            "total_predicted_ltv": num(total, 2),
        }
    if other[0] >= MIN_GROUP_SIZE:
        channels["Other"] = {
            "customers": other[0],
            "avg_predicted_ltv": num(other[1] / other[0], 2),
            "total_predicted_ltv": num(other[1], 2),
        }
    ranked = sorted(channels.items(), key=lambda kv: -(kv[1]["avg_predicted_ltv"] or 0))
    return {
        "snapshot_date": snap.isoformat(),
        "by_acquisition_channel": dict(ranked),
        "highest_avg_channel": ranked[0][0] if ranked else None,
        "lowest_avg_channel": ranked[-1][0] if ranked else None,
    }


def build_context(conn: psycopg.Connection, run_date: dt.date) -> dict[str, Any]:
    has_churn = table_exists(conn, "ml.churn_scores")
    has_ltv = table_exists(conn, "ml.ltv_predictions")
    if not has_churn and not has_ltv:
        return no_data(TOPIC, run_date, "ml.churn_scores and ml.ltv_predictions do not exist (ML not run)")
    existing = [
        t for t, exists in (("ml.churn_scores", has_churn), ("ml.ltv_predictions", has_ltv)) if exists
    ]
    if all(is_empty(conn, t) for t in existing):
        return no_data(
            TOPIC,
            run_date,
            f"{' and '.join(existing)} {'are' if len(existing) > 1 else 'is'} empty (no customers to "
            "score, or the models were skipped: "
            "see ml.model_runs)",
        )
    ctx: dict[str, Any] = {
        "topic": TOPIC, "status": "ok", "run_date": run_date.isoformat(), "currency": shop_currency(conn),
    }  # fmt: skip
    missing = []
    churn_snap = _latest_snapshot(conn, "ml.churn_scores", run_date) if has_churn else None
    if churn_snap is not None:
        ctx["churn_risk"] = _churn(conn, churn_snap)
    else:
        missing.append("churn scores" if has_churn else "ml.churn_scores does not exist")
    ltv_snap = _latest_snapshot(conn, "ml.ltv_predictions", run_date) if has_ltv else None
    if ltv_snap is not None and table_exists(conn, "marts.dim_customers"):
        ctx["predicted_ltv"] = _ltv(conn, ltv_snap)
    else:
        missing.append("ltv predictions" if has_ltv else "ml.ltv_predictions does not exist")
    if "churn_risk" not in ctx and "predicted_ltv" not in ctx:
        return no_data(TOPIC, run_date, "no churn scores or LTV predictions on or before the run date")
    if missing:
        ctx["missing"] = missing
    return ctx
