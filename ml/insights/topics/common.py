"""Helpers shared by the topic context builders: rounding, the reference date, table existence, the
shop's currency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import psycopg

# Aggregates over fewer customers than this are folded away: a "group" of one is a person.
MIN_GROUP_SIZE = 5
DEFAULT_CURRENCY = "USD"


def num(value: Any, digits: int = 4) -> float | int | None:
    """JSON-friendly number: Decimals to float, rounded so the prompt stays short."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    f = float(value) if isinstance(value, Decimal | float) else float(value)
    r = round(f, digits)
    return int(r) if r.is_integer() and abs(r) >= 1 else r


def table_exists(conn: psycopg.Connection, qualified: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (qualified,)).fetchone()[0]


def is_empty(conn: psycopg.Connection, qualified: str) -> bool:
    """True when an existing table holds no row (every source is optional: its marts build empty)."""
    return conn.execute(f"select not exists (select 1 from {qualified})").fetchone()[0]


def reference_date(conn: psycopg.Connection, run_date: dt.date, max_sql: str) -> dt.date | None:
    """min(run date, newest date in the data): the sandbox's data ends at the world's end date."""
    newest = conn.execute(max_sql, (run_date,)).fetchone()[0]
    if newest is None:
        return None
    if isinstance(newest, dt.datetime):
        newest = newest.date()
    return min(run_date, newest)


def no_data(topic: str, run_date: dt.date, reason: str) -> dict[str, Any]:
    """The honest context of a topic without data: the pipeline stores no insight for it."""
    return {"topic": topic, "run_date": run_date.isoformat(), "status": "no data", "reason": reason}


def change(cur: Any, prev: Any) -> float | None:
    """Relative change cur/prev - 1, None when undefined."""
    if cur is None or prev is None or float(prev) == 0:
        return None
    return num(float(cur) / float(prev) - 1)


def diff(cur: Any, prev: Any) -> float | None:
    """Absolute difference (of rates: a `*_points` value, in rate units)."""
    if cur is None or prev is None:
        return None
    return num(float(cur) - float(prev))


def shop_currency(conn: psycopg.Connection) -> str:
    """The shop's currency (ISO code): the most common `currency_code` of marts.fct_orders; "USD" when
    there is no order yet (or no orders mart), so a context always says what its money is in."""
    if not table_exists(conn, "marts.fct_orders"):
        return DEFAULT_CURRENCY
    row = conn.execute(
        "select currency_code from marts.fct_orders where currency_code is not null "
        "group by currency_code order by count(*) desc, currency_code limit 1"
    ).fetchone()
    return str(row[0]).upper() if row else DEFAULT_CURRENCY
