"""Demand context: days in the latest two weeks where actual units or revenue fell outside the
forecast's interval, by category ('total' = all). Sources: ml.demand_forecast and marts.fct_order_items
(daily sums per category; no people)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from ml.insights.topics.common import is_empty, no_data, num, reference_date, shop_currency, table_exists

TOPIC = "demand"
WINDOW_DAYS = 14
TOP_DEVIATIONS = 5

COMPARE_SQL = """
with actuals as (
    select order_date as day, category, sum(quantity - coalesce(refunded_quantity, 0)) as units,
           sum(net_amount) as revenue
    from marts.fct_order_items
    where not is_cancelled and order_date > %(ref)s::date - %(window)s and order_date <= %(ref)s::date
    group by order_date, category
    union all
    select order_date, 'total', sum(quantity - coalesce(refunded_quantity, 0)), sum(net_amount)
    from marts.fct_order_items
    where not is_cancelled and order_date > %(ref)s::date - %(window)s and order_date <= %(ref)s::date
    group by order_date
),
forecast as (
    select distinct on (forecast_date, category) *
    from ml.demand_forecast
    where forecast_date > %(ref)s::date - %(window)s and forecast_date <= %(ref)s::date
    order by forecast_date, category, model_version desc
)
select f.forecast_date, f.category, coalesce(a.units, 0) as units, f.units_forecast, f.units_lower,
       f.units_upper, coalesce(a.revenue, 0) as revenue, f.revenue_forecast, f.revenue_lower, f.revenue_upper
from forecast as f
left join actuals as a on a.day = f.forecast_date and a.category = f.category
order by f.forecast_date, f.category
"""


def build_context(conn: psycopg.Connection, run_date: dt.date) -> dict[str, Any]:
    if not table_exists(conn, "ml.demand_forecast"):
        return no_data(TOPIC, run_date, "ml.demand_forecast does not exist (ML not run)")
    if is_empty(conn, "ml.demand_forecast"):
        return no_data(
            TOPIC,
            run_date,
            "ml.demand_forecast is empty (no sales to forecast, or the forecast was skipped: see ml.model_runs)",
        )
    if not table_exists(conn, "marts.fct_order_items"):
        return no_data(TOPIC, run_date, "marts.fct_order_items does not exist")
    ref = reference_date(
        conn, run_date, "select max(order_date) from marts.fct_order_items where order_date <= %s"
    )
    if ref is None:
        return no_data(TOPIC, run_date, "no orders on or before the run date")
    cur = conn.execute(COMPARE_SQL, {"ref": ref, "window": WINDOW_DAYS})
    cols = [d.name for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    if not rows:
        return no_data(
            TOPIC, run_date, "no forecast dates with actuals yet (forecast covers only the future)"
        )
    categories: dict[str, dict[str, Any]] = {}
    outside = []
    for r in rows:
        cat = categories.setdefault(
            r["category"],
            {"days_compared": 0, "units": {"above": 0, "below": 0}, "revenue": {"above": 0, "below": 0}},
        )
        cat["days_compared"] += 1
        for measure in ("units", "revenue"):
            actual, lo, hi = float(r[measure]), r[f"{measure}_lower"], r[f"{measure}_upper"]
            if lo is None or hi is None:
                continue
            side = "above" if actual > float(hi) else "below" if actual < float(lo) else None
            if side is None:
                continue
            cat[measure][side] += 1
            bound = float(hi) if side == "above" else float(lo)
            fc = r[f"{measure}_forecast"]
            outside.append({
                "date": r["forecast_date"].isoformat(), "category": r["category"], "measure": measure,
                "side": side, f"actual_{measure}": num(actual, 2), f"forecast_{measure}": num(fc, 2),
                f"lower_{measure}": num(lo, 2), f"upper_{measure}": num(hi, 2),
                f"{measure}_outside": num(abs(actual - bound), 2),
                "vs_forecast_change": num(actual / float(fc) - 1) if fc not in (None, 0) else None,
            })  # fmt: skip
    outside.sort(key=lambda o: -(abs(o["vs_forecast_change"] or 0)))
    return {
        "topic": TOPIC,
        "status": "ok",
        "run_date": run_date.isoformat(),
        "reference_date": ref.isoformat(),
        "window": f"{(ref - dt.timedelta(days=WINDOW_DAYS - 1)).isoformat()}..{ref.isoformat()}",
        "currency": shop_currency(conn),
        "notes": (
            "units are net of refunds; revenue is in `currency`; by_category counts days above/below the "
            "interval per measure; vs_forecast_change = actual / forecast - 1 (relative); "
            "<measure>_outside = distance from the interval's nearest bound"
        ),
        # one miss = one (day, category, measure) outside the interval; days count each date once
        "misses_outside_interval": len(outside),
        "days_with_a_miss": len({o["date"] for o in outside}),
        "by_category": categories,
        "largest_deviations": outside[:TOP_DEVIATIONS],
    }
