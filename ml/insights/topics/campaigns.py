"""Campaign context: ROAS and CPA movers per attribution model (latest week vs the week before), spend
without attributed revenue, and platform-reported vs first-party conversions.
Source: marts.fct_campaign_performance_daily (campaign x day; no people)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from ml.insights.topics.common import (
    change,
    is_empty,
    no_data,
    num,
    reference_date,
    shop_currency,
    table_exists,
)

TOPIC = "campaigns"
# dbt var `attribution_models` (dbt_project.yml): the wide mart has one column set per model
MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based")
TOP_MOVERS = 3


def _weekly(conn: psycopg.Connection, ref: dt.date) -> list[dict[str, Any]]:
    per_model = ", ".join(f"sum(conversions_{m}) as conv_{m}, sum(revenue_{m}) as rev_{m}" for m in MODELS)
    cur = conn.execute(
        f"""
        select coalesce(campaign_name, campaign_id::text) as campaign,
               case when date_day > %(ref)s::date - 7 then 'cur' else 'prev' end as week,
               sum(spend) as spend, sum(platform_purchases) as platform_purchases,
               sum(platform_purchase_value) as platform_purchase_value, {per_model}
        from marts.fct_campaign_performance_daily
        where date_day > %(ref)s::date - 14 and date_day <= %(ref)s::date
        group by 1, 2
        """,
        {"ref": ref},
    )
    cols = [d.name for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _public(mover: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mover.items() if not k.startswith("_")}


def _ratio(a: Any, b: Any) -> float | None:
    return float(a) / float(b) if a is not None and b not in (None, 0) and float(b) != 0 else None


def build_context(conn: psycopg.Connection, run_date: dt.date) -> dict[str, Any]:
    if not table_exists(conn, "marts.fct_campaign_performance_daily"):
        return no_data(TOPIC, run_date, "marts.fct_campaign_performance_daily does not exist")
    if is_empty(conn, "marts.fct_campaign_performance_daily"):
        return no_data(
            TOPIC, run_date, "marts.fct_campaign_performance_daily is empty (no ad platform source)"
        )
    ref = reference_date(
        conn, run_date, "select max(date_day) from marts.fct_campaign_performance_daily where date_day <= %s"
    )
    if ref is None:
        return no_data(TOPIC, run_date, "no campaign days on or before the run date")
    rows = _weekly(conn, ref)
    weeks: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        weeks.setdefault(r["campaign"], {})[r["week"]] = r
    if not any("cur" in w for w in weeks.values()):
        return no_data(TOPIC, run_date, "no campaign activity in the latest week")

    movers: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for m in MODELS:
        roas, cpa = [], []
        for name, w in weeks.items():
            c, p = w.get("cur"), w.get("prev")
            if not c or not p:
                continue
            spend = num(c["spend"], 2)
            r_c, r_p = _ratio(c[f"rev_{m}"], c["spend"]), _ratio(p[f"rev_{m}"], p["spend"])
            if r_c is not None and r_p is not None:
                roas.append({
                    "campaign": name, "spend": spend, "roas": num(r_c, 2), "roas_prev": num(r_p, 2),
                    "roas_change": change(r_c, r_p), "_moved": abs(r_c - r_p),
                })  # fmt: skip
            a_c, a_p = _ratio(c["spend"], c[f"conv_{m}"]), _ratio(p["spend"], p[f"conv_{m}"])
            if a_c is not None and a_p is not None:
                cpa.append({
                    "campaign": name, "spend": spend, "cpa": num(a_c, 2), "cpa_prev": num(a_p, 2),
                    "cpa_change": change(a_c, a_p), "_moved": abs(a_c - a_p),
                })  # fmt: skip
        # the largest absolute moves first; the helper key `_moved` stays out of the context
        movers[m] = {
            "roas_movers": [_public(x) for x in sorted(roas, key=lambda x: -x["_moved"])[:TOP_MOVERS]],
            "cpa_movers": [_public(x) for x in sorted(cpa, key=lambda x: -x["_moved"])[:TOP_MOVERS]],
        }

    cur_rows = [w["cur"] for w in weeks.values() if "cur" in w]
    unattributed = [
        {"campaign": name, "spend": num(w["cur"]["spend"], 2)}
        for name, w in sorted(weeks.items())
        if "cur" in w
        and float(w["cur"]["spend"] or 0) > 0
        and all(float(w["cur"][f"rev_{m}"] or 0) == 0 for m in MODELS)
    ]
    total_spend = sum(float(r["spend"] or 0) for r in cur_rows)
    platform_purchases = sum(float(r["platform_purchases"] or 0) for r in cur_rows)
    first_party = {m: num(sum(float(r[f"conv_{m}"] or 0) for r in cur_rows), 2) for m in MODELS}
    return {
        "topic": TOPIC,
        "status": "ok",
        "run_date": run_date.isoformat(),
        "reference_date": ref.isoformat(),
        "current_week": f"{(ref - dt.timedelta(days=6)).isoformat()}..{ref.isoformat()}",
        "currency": shop_currency(conn),
        "notes": (
            "ROAS = attributed revenue / spend; CPA = spend / attributed conversions; *_prev = the week "
            "before; *_change = current / previous - 1 (relative); movers = largest absolute moves"
        ),
        "campaigns_active": len(cur_rows),
        "spend": num(total_spend, 2),
        "movers_by_model": movers,
        "spend_without_attributed_revenue": {
            "campaigns": unattributed,
            "total_spend": num(sum(u["spend"] for u in unattributed), 2),
        },
        "platform_vs_first_party": {
            "platform_purchases": num(platform_purchases, 2),
            "platform_purchase_value": num(
                sum(float(r["platform_purchase_value"] or 0) for r in cur_rows), 2
            ),
            "first_party_conversions_by_model": first_party,
            "platform_to_last_touch_ratio": num(_ratio(platform_purchases, first_party["last_touch"]), 2),
        },
    }
