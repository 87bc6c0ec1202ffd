"""Tier 3: a day-by-day incremental build gives exactly the marts of a full refresh.

The raw events and orders of the last days are held back and released one day at a time, with one
event in twenty arriving 36 hours late (within `incremental_lookback_days`), and `dbt run` runs after
each release; the final marts and incremental models must equal those of the full build.
"""

from __future__ import annotations

import datetime as dt
import decimal

import psycopg
import pytest

DAYS = 4
# when a raw row "arrives": events by receipt time, one in twenty delayed 36 h; orders when created
EVENT_ARRIVAL = "received_at + case when mod(abs(hashtext(message_id)), 20) = 0 then interval '36 hours' else interval '0 hours' end"
HELD = {"events.events": EVENT_ARRIVAL, "shopify.orders": "created_at"}
COMPARED = [
    "intermediate.int_sessions_aggregated", "intermediate.int_touchpoints_collected",
    "intermediate.int_identities_resolved", "intermediate.int_visitor_consent", "marts.fct_sessions", "marts.fct_funnel_daily",
    "marts.fct_orders", "marts.dim_customers", "marts.fct_cohort_retention", "marts.fct_attribution",
    "marts.fct_campaign_performance_daily", "marts.fct_channel_performance_daily", "marts.ml_customer_features",
]  # fmt: skip


def _normal(value: object) -> object:
    """Floats summed in another row order differ in the last bits; compare them to 9 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, decimal.Decimal):
        return value.normalize()
    return value


def _snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    tables = {}
    for table in COMPARED:
        rows = conn.execute(f"select * from {table}").fetchall()
        tables[table] = sorted((tuple(_normal(v) for v in row) for row in rows), key=repr)
    return tables


def _hold_back(conn: psycopg.Connection, since: dt.datetime) -> None:
    conn.execute("create schema if not exists holdback")
    for table, arrival in HELD.items():
        name = table.replace(".", "__")
        conn.execute(f"create table holdback.{name} as select * from {table} where {arrival} >= %s", (since,))
        conn.execute(f"delete from {table} where {arrival} >= %s", (since,))


def _release(conn: psycopg.Connection, until: dt.datetime | None) -> None:
    for table, arrival in HELD.items():
        name = table.replace(".", "__")
        cond = f"{arrival} < %s" if until else "true"
        params = (until,) if until else ()
        conn.execute(f"insert into {table} select * from holdback.{name} where {cond}", params)
        conn.execute(f"delete from holdback.{name} where {cond}", params)


@pytest.mark.timeout(600)
def test_day_by_day_incremental_build_equals_full_refresh(built_tiny, raw_tiny, run_dbt):
    with psycopg.connect(raw_tiny.role_url("admin"), autocommit=True) as conn:
        full = _snapshot(conn)
        last_day = conn.execute("select max(received_at)::date from events.events").fetchone()[0]
        start = dt.datetime.combine(last_day - dt.timedelta(days=DAYS - 1), dt.time(), tzinfo=dt.UTC)
        _hold_back(conn, start)
        try:
            held = conn.execute("select count(*) from holdback.events__events").fetchone()[0]
            assert held > 0
            run_dbt("run", "--full-refresh")
            for day in range(1, DAYS + 1):
                _release(conn, start + dt.timedelta(days=day))
                run_dbt("run")
            _release(conn, None)  # stragglers delayed past the last day
            run_dbt("run")
            incremental = _snapshot(conn)
        finally:
            _release(conn, None)
            conn.execute("drop schema if exists holdback cascade")

    for table in COMPARED:
        only_incremental = sorted(set(incremental[table]) - set(full[table]), key=repr)
        only_full = sorted(set(full[table]) - set(incremental[table]), key=repr)
        assert not only_incremental and not only_full, (
            f"{table}: {len(only_incremental)} rows only in the incremental build, e.g. {only_incremental[:2]}; "
            f"{len(only_full)} only in the full refresh, e.g. {only_full[:2]}"
        )
        assert len(incremental[table]) == len(full[table]), table
