"""Topic context builders: `TOPICS[name](conn, run_date) -> dict` (compact JSON of aggregates).

Each builder runs SQL aggregates as the transformer role and returns either a context with
`status = "ok"` or an honest `status = "no data"` with the reason (then no insight is produced).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg

from ml.insights.topics import campaigns, cohorts, customers, demand, funnel

ContextBuilder = Callable[[psycopg.Connection, dt.date], dict[str, Any]]

TOPICS: dict[str, ContextBuilder] = {
    "funnel": funnel.build_context,
    "campaigns": campaigns.build_context,
    "cohorts": cohorts.build_context,
    "customers": customers.build_context,
    "demand": demand.build_context,
}
