"""Funnel context: the funnel's steps this week against the 4 weeks before, and the anomalies the
detector (ml/insights/detection.py) finds in every breakdown: the whole shop, channel, device, visitor
type (new/returning browser) and customer type (new/returning buyer).

Sources: marts.fct_funnel_daily (step counts per day and breakdown, in the mart's `funnel_mode`) and
marts.fct_sessions (revenue per session's daily sums and sums of squares, for the revenue test). Both
are aggregates here: no session or person leaves SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import psycopg

from ml.insights import detection
from ml.insights.detection import COUNT_COLUMNS, STEPS, Series
from ml.insights.topics.common import is_empty, no_data, num, reference_date, shop_currency, table_exists

TOPIC = "funnel"
DIMENSIONS = ("channel", "device_type", "visitor_type", "customer_type")
SUMMARY_DAYS = 7

_DIMENSION_SQL = "case {cases} else 'all' end".format(
    cases=" ".join(f"when grouping({d}) = 0 then '{d}'" for d in DIMENSIONS)
)
_SEGMENT_SQL = "case {cases} else 'all' end".format(
    cases=" ".join(f"when grouping({d}) = 0 then coalesce({d}::text, 'unknown')" for d in DIMENSIONS)
)
_GROUPING_SETS = ", ".join(["(day)"] + [f"(day, {d})" for d in DIMENSIONS])

COUNTS_SQL = f"""
select {_DIMENSION_SQL} as dimension, {_SEGMENT_SQL} as segment, day,
       {", ".join(f"sum({c})::float8 as {c}" for c in COUNT_COLUMNS)}
from (select date_day as day, * from marts.fct_funnel_daily
      where date_day > %(ref)s::date - %(days)s and date_day <= %(ref)s::date) as f
group by grouping sets ({_GROUPING_SETS})
"""

REVENUE_SQL = f"""
select {_DIMENSION_SQL} as dimension, {_SEGMENT_SQL} as segment, day,
       count(*)::float8 as sessions, coalesce(sum(revenue), 0)::float8 as revenue,
       coalesce(sum(revenue * revenue), 0)::float8 as revenue_sq
from (select session_date as day, * from marts.fct_sessions
      where session_date > %(ref)s::date - %(days)s and session_date <= %(ref)s::date) as s
group by grouping sets ({_GROUPING_SETS})
"""


def _series(conn: psycopg.Connection, ref: dt.date) -> list[Series]:
    """One Series per (dimension, segment), zero-filled over the HISTORY_DAYS ending at `ref`."""
    days = detection.HISTORY_DAYS
    start = ref - dt.timedelta(days=days - 1)
    params = {"ref": ref, "days": days}
    by_key: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    def arrays(key: tuple[str, str]) -> dict[str, np.ndarray]:
        cols = (*COUNT_COLUMNS, "revenue", "revenue_sq", "revenue_sessions")
        return by_key.setdefault(key, {c: np.zeros(days) for c in cols})

    for dim, seg, day, *values in conn.execute(COUNTS_SQL, params).fetchall():
        a = arrays((dim, seg))
        for c, v in zip(COUNT_COLUMNS, values, strict=True):
            a[c][(day - start).days] = v or 0
    if table_exists(conn, "marts.fct_sessions"):
        for dim, seg, day, n, rev, sq in conn.execute(REVENUE_SQL, params).fetchall():
            a = arrays((dim, seg))
            i = (day - start).days
            a["revenue_sessions"][i], a["revenue"][i], a["revenue_sq"][i] = n, rev, sq
    return [
        Series(
            dim,
            seg,
            start,
            {c: a[c] for c in COUNT_COLUMNS},
            a["revenue"],
            a["revenue_sq"],
            a["revenue_sessions"],
        )
        for (dim, seg), a in sorted(by_key.items())
    ]


def _summary(whole: Series) -> dict[str, Any]:
    """The whole shop's steps over the last SUMMARY_DAYS against the BASELINE_DAYS before."""
    cur = slice(whole.days - SUMMARY_DAYS, whole.days)
    base = slice(whole.days - SUMMARY_DAYS - detection.BASELINE_DAYS, whole.days - SUMMARY_DAYS)
    c = {k: float(v[cur].sum()) for k, v in whole.counts.items()}
    b = {k: float(v[base].sum()) for k, v in whole.counts.items()}
    steps = {}
    for step, nom, den in STEPS:
        rate = c[nom] / c[den] if c[den] else None
        base_rate = b[nom] / b[den] if b[den] else None
        steps[step] = {
            "rate": num(rate),
            "baseline_rate": num(base_rate),
            "rate_points": num(rate - base_rate) if rate is not None and base_rate is not None else None,
        }
    return {
        "sessions": int(c["sessions"]),
        "purchases": int(c["purchase_sessions"]),
        "baseline_sessions": int(b["sessions"]),
        "baseline_purchases": int(b["purchase_sessions"]),
        "conversion_rate": steps["conversion"]["rate"],
        "baseline_conversion_rate": steps["conversion"]["baseline_rate"],
        "conversion_rate_points": steps["conversion"]["rate_points"],
        "steps": steps,
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
    first = conn.execute("select min(date_day) from marts.fct_funnel_daily").fetchone()[0]
    if (ref - first).days + 1 < SUMMARY_DAYS + detection.BASELINE_DAYS:
        return no_data(
            TOPIC,
            run_date,
            f"fewer than {SUMMARY_DAYS + detection.BASELINE_DAYS} days of funnel data "
            "(a week compared with the 4 weeks before it)",
        )
    mode = conn.execute(
        "select max(funnel_mode) from marts.fct_funnel_daily where date_day = %s", (ref,)
    ).fetchone()[0]
    series = _series(conn, ref)
    whole = next(s for s in series if s.dimension == "all")
    anomalies = detection.detect(series)
    return {
        "topic": TOPIC,
        "status": "ok",
        "run_date": run_date.isoformat(),
        "reference_date": ref.isoformat(),
        "currency": shop_currency(conn),
        "funnel_mode": mode,
        "current_period": f"{(ref - dt.timedelta(days=SUMMARY_DAYS - 1)).isoformat()}..{ref.isoformat()}",
        "baseline_period": (
            f"{(ref - dt.timedelta(days=SUMMARY_DAYS + detection.BASELINE_DAYS - 1)).isoformat()}.."
            f"{(ref - dt.timedelta(days=SUMMARY_DAYS)).isoformat()}"
        ),
        "notes": (
            "rates are fractions (0.05 = 5%); *_points are differences of rates; *_change are relative "
            "changes; step rates are sessions reaching the step over sessions reaching the one before. "
            "anomalies are changes still going on, each compared with the 28 days before its start "
            "(weekday-matched), significant after false-discovery control across every breakdown and "
            "step, and material; lost_conversions and lost_revenue are negative for gains."
        ),
        "overall": _summary(whole),
        "breakdowns_tested": len(series),
        "anomalies": anomalies,
    }
