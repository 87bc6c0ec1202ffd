"""Funnel context: latest week vs the week before, overall, by channel and by device, and the step
whose conversion rate moved most. Source: marts.fct_funnel_daily (already aggregated, no people)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from ml.insights.topics.common import diff, is_empty, no_data, num, reference_date, table_exists

TOPIC = "funnel"
STEPS = [
    ("product_view_rate", "sessions", "product_view_sessions"),
    ("add_to_cart_rate", "product_view_sessions", "add_to_cart_sessions"),
    ("checkout_rate", "add_to_cart_sessions", "checkout_sessions"),
    ("purchase_rate", "checkout_sessions", "purchase_sessions"),
]
COUNTS = [
    "sessions", "product_view_sessions", "add_to_cart_sessions", "checkout_sessions", "purchase_sessions",
]  # fmt: skip

WEEKLY_SQL = """
select {dim} as grp,
       case when date_day > %(ref)s::date - 7 then 'cur' else 'prev' end as week,
       {sums},
       sum(purchase_revenue) as purchase_revenue
from marts.fct_funnel_daily
where date_day > %(ref)s::date - 14 and date_day <= %(ref)s::date
group by 1, 2
"""


def _weekly(conn: psycopg.Connection, ref: dt.date, dim: str) -> dict[str, dict[str, dict[str, float]]]:
    sums = ", ".join(f"sum({c}) as {c}" for c in COUNTS)
    cur = conn.execute(WEEKLY_SQL.format(dim=dim, sums=sums), {"ref": ref})
    cols = [d.name for d in cur.description]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row in cur.fetchall():
        rec = dict(zip(cols, row, strict=True))
        out.setdefault(str(rec["grp"]), {})[rec["week"]] = {c: float(rec[c] or 0) for c in cols[2:]}
    return out


def _summary(weeks: dict[str, dict[str, float]]) -> dict[str, Any]:
    cur, prev = weeks.get("cur", {}), weeks.get("prev", {})

    def conv(w: dict[str, float]) -> float | None:
        return num(w["purchase_sessions"] / w["sessions"]) if w.get("sessions") else None

    return {
        "sessions": num(cur.get("sessions", 0)),
        "sessions_prev": num(prev.get("sessions", 0)),
        "purchases": num(cur.get("purchase_sessions", 0)),
        "purchases_prev": num(prev.get("purchase_sessions", 0)),
        "conversion_rate": conv(cur),
        "conversion_rate_prev": conv(prev),
        "conversion_rate_change": diff(conv(cur), conv(prev)),
    }


def build_context(conn: psycopg.Connection, run_date: dt.date) -> dict[str, Any]:
    if not table_exists(conn, "marts.fct_funnel_daily"):
        return no_data(TOPIC, run_date, "marts.fct_funnel_daily does not exist")
    if is_empty(conn, "marts.fct_funnel_daily"):
        return no_data(TOPIC, run_date, "marts.fct_funnel_daily is empty (no tracked web events)")
    ref = reference_date(
        conn, run_date, "select max(date_day) from marts.fct_funnel_daily where date_day <= %s"
    )
    if ref is None:
        return no_data(TOPIC, run_date, "no funnel days on or before the run date")
    total = _weekly(conn, ref, "'all'").get("all", {})
    if not total.get("cur") or not total.get("prev"):
        return no_data(TOPIC, run_date, "fewer than two weeks of funnel data")
    steps = {}
    for name, den, nom in STEPS:
        cur = total["cur"][nom] / total["cur"][den] if total["cur"][den] else None
        prev = total["prev"][nom] / total["prev"][den] if total["prev"][den] else None
        steps[name] = {"rate": num(cur), "rate_prev": num(prev), "change": diff(cur, prev)}
    movable = [(abs(v["change"]), k) for k, v in steps.items() if v["change"] is not None]
    by_channel = {k: _summary(v) for k, v in sorted(_weekly(conn, ref, "channel").items())}
    by_device = {k: _summary(v) for k, v in sorted(_weekly(conn, ref, "device_type").items())}
    return {
        "topic": TOPIC,
        "status": "ok",
        "run_date": run_date.isoformat(),
        "reference_date": ref.isoformat(),
        "current_week": f"{(ref - dt.timedelta(days=6)).isoformat()}..{ref.isoformat()}",
        "previous_week": f"{(ref - dt.timedelta(days=13)).isoformat()}..{(ref - dt.timedelta(days=7)).isoformat()}",
        "rates_note": "rates are fractions (0.05 = 5%); *_change are differences of rates",
        "overall": _summary(total),
        "steps": steps,
        "step_moved_most": max(movable)[1] if movable else None,
        "by_channel": by_channel,
        "by_device": by_device,
    }
