"""Cohort context: month-1 and month-3 retention of the newest complete cohorts vs earlier ones.
Source: marts.fct_cohort_retention, the 'All' channel split (cohort aggregates, no people)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from ml.insights.topics.common import (
    MIN_GROUP_SIZE,
    diff,
    is_empty,
    no_data,
    num,
    reference_date,
    shop_currency,
    table_exists,
)

TOPIC = "cohorts"
HORIZONS = (1, 3)
NEWEST = 3
EARLIER = 6


def _horizon(conn: psycopg.Connection, last_complete: dt.date, months: int) -> dict[str, Any] | None:
    rows = conn.execute(
        """
        select cohort_month, cohort_customers, active_customers
        from marts.fct_cohort_retention
        where first_touch_channel = 'All' and months_since_first_order = %(m)s
          and cohort_month + make_interval(months => %(m)s) <= %(last)s::date
          and cohort_customers >= %(min)s
        order by cohort_month desc
        limit %(n)s
        """,
        {"m": months, "last": last_complete, "min": MIN_GROUP_SIZE, "n": NEWEST + EARLIER},
    ).fetchall()
    if len(rows) < NEWEST + 1:
        return None
    newest, earlier = rows[:NEWEST], rows[NEWEST:]

    def pooled(rs: list[tuple]) -> float:
        return sum(r[2] for r in rs) / sum(r[1] for r in rs)

    return {
        "newest_cohorts": [
            {"cohort_month": r[0].isoformat()[:7], "customers": r[1], "retained_rate": num(r[2] / r[1])}
            for r in newest
        ],
        "newest_retained_rate": num(pooled(newest)),
        "earlier_retained_rate": num(pooled(earlier)),
        "earlier_cohorts": f"{earlier[-1][0].isoformat()[:7]}..{earlier[0][0].isoformat()[:7]}",
        "retained_points": diff(pooled(newest), pooled(earlier)),
    }


def build_context(conn: psycopg.Connection, run_date: dt.date) -> dict[str, Any]:
    if not table_exists(conn, "marts.fct_cohort_retention"):
        return no_data(TOPIC, run_date, "marts.fct_cohort_retention does not exist")
    if is_empty(conn, "marts.fct_cohort_retention"):
        return no_data(TOPIC, run_date, "marts.fct_cohort_retention is empty (no orders)")
    ref = reference_date(
        conn,
        run_date,
        "select max(cohort_month + make_interval(months => months_since_first_order))::date "
        "from marts.fct_cohort_retention where cohort_month <= %s",
    )
    if ref is None:
        return no_data(TOPIC, run_date, "no cohorts on or before the run date")
    # the reference month itself is still in progress: only months before it are complete
    ref_month = ref.replace(day=1)
    last_complete = (ref_month - dt.timedelta(days=1)).replace(day=1)
    horizons = {f"month_{m}": h for m in HORIZONS if (h := _horizon(conn, last_complete, m)) is not None}
    if not horizons:
        return no_data(TOPIC, run_date, "not enough complete cohorts to compare")
    return {
        "topic": TOPIC,
        "status": "ok",
        "run_date": run_date.isoformat(),
        "last_complete_month": last_complete.isoformat()[:7],
        "currency": shop_currency(conn),
        "notes": (
            "retained_rate = share of the cohort ordering in month N after its first order (0.25 = 25%); "
            f"newest = the {NEWEST} newest cohorts with that month complete, pooled; earlier = up to "
            f"{EARLIER} cohorts before them, pooled; retained_points = newest - earlier (a difference "
            "of rates)"
        ),
        "retention": horizons,
    }
