"""Insights tier fixtures: the dbt tier's built tiny warehouse, synthetic ML tables, and a local
OpenAI-compatible HTTP server with scripted answers (real HTTP through the `openai` SDK)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingestion.sandbox.emulators.server import BackgroundServer
from ingestion.warehouse import WarehouseSettings
from ml.insights import rules
from ml.insights.grounding import Metric, context_metrics

# every table the ML assets write (the insight topics read three of them)
ML_OUTPUTS = (
    "churn_scores", "ltv_predictions", "product_recommendations", "similar_products", "demand_forecast",
    "attribution_data_driven",
)  # fmt: skip

ML_TABLES_SQL = """
create table ml.churn_scores as
select customer_id, (select max(order_date) from marts.fct_order_items) as snapshot_date,
       p as churn_probability,
       case when p >= 0.7 then 'high' when p >= 0.4 then 'medium' else 'low' end as risk_band,
       -- drivers as ml.churn writes them: "<feature>: <value> (raises|lowers risk)"
       'Days since last order: ' || (abs(hashtext(customer_id::text)) % 300) || ' (raises risk)' as driver_1,
       case when p > 0.5 then 'Order count: ' || (abs(hashtext(customer_id::text)) % 3 + 1) || ' (raises risk)'
            else 'Avg order value: none (lowers risk)' end as driver_2,
       case when p > 0.3 then 'Acquired via paid social (raises risk)'
            else 'Not acquired via paid social (lowers risk)' end as driver_3,
       'test' as model_version, now() as scored_at
from (select customer_id, (abs(hashtext(customer_id::text)) % 1000) / 1000.0 as p from marts.dim_customers) s;

create table ml.ltv_predictions as
select customer_id, (select max(order_date) from marts.fct_order_items) as snapshot_date,
       (abs(hashtext(customer_id::text)) % 50000) / 100.0 as predicted_ltv,
       'test' as model_version, now() as scored_at
from marts.dim_customers;

create table ml.demand_forecast as
with daily as (
    select order_date, category, sum(quantity) as units, sum(net_amount) as revenue
    from marts.fct_order_items group by 1, 2
    union all
    select order_date, 'total', sum(quantity), sum(net_amount) from marts.fct_order_items group by 1
),
f as (
    select order_date as forecast_date, category,
           units * case when extract(day from order_date)::int % 3 = 0 then 2 else 1 end as units_forecast,
           revenue * case when extract(day from order_date)::int % 3 = 0 then 2 else 1 end as revenue_forecast
    from daily
    where order_date > (select max(order_date) from marts.fct_order_items) - 14
)
select forecast_date, category, units_forecast, units_forecast * 0.8 as units_lower,
       units_forecast * 1.2 as units_upper, revenue_forecast, revenue_forecast * 0.8 as revenue_lower,
       revenue_forecast * 1.2 as revenue_upper, 'test' as model_version
from f;
"""


@pytest.fixture(scope="session")
def insights_wh(built_tiny, dbt_warehouse: WarehouseSettings) -> WarehouseSettings:
    """The built tiny warehouse (marts present, no ML tables: those the ML tier may have scored into
    the same database earlier in the session are dropped)."""
    with psycopg.connect(dbt_warehouse.role_url("transformer"), autocommit=True) as conn:
        for t in ML_OUTPUTS:
            conn.execute(f"drop table if exists ml.{t}")
    return dbt_warehouse


@pytest.fixture(scope="session")
def empty_insights_wh(built_tiny, dbt_warehouse: WarehouseSettings) -> WarehouseSettings:
    """Every relation of the tiny dbt build without a row (a shop with no source loaded yet)."""
    from tests.ml.copies import copy_database

    return copy_database(dbt_warehouse, "journey_insights_empty", schema_only=True)


@pytest.fixture
def ml_tables(insights_wh: WarehouseSettings) -> Iterator[WarehouseSettings]:
    """Synthetic ML outputs (columns as issue 6 defines them), committed for the test, dropped after."""
    with psycopg.connect(insights_wh.role_url("transformer"), autocommit=True) as conn:
        for t in ("churn_scores", "ltv_predictions", "demand_forecast"):
            conn.execute(f"drop table if exists ml.{t}")
        conn.execute(ML_TABLES_SQL)
    yield insights_wh
    with psycopg.connect(insights_wh.role_url("transformer"), autocommit=True) as conn:
        for t in ("churn_scores", "ltv_predictions", "demand_forecast"):
            conn.execute(f"drop table if exists ml.{t}")


def _context(body: dict[str, Any]) -> dict[str, Any]:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return json.loads(user.split("Context JSON:\n", 1)[1])


def written(metric: Metric, currency: str | None) -> str:
    """A metric's value as an insight writes it, in the unit its key implies."""
    v = metric.value
    return {
        "fraction": rules.pct, "points": rules.points, "change": rules.pct_magnitude,
        "money": lambda x: rules.money(x, currency), "ratio": rules.ratio, "plain": rules.plain,
    }[metric.unit](v)  # fmt: skip


def first_metric(ctx: dict[str, Any]) -> Metric | None:
    """The first numeric leaf of a context (path with [i] items): what a well-behaved model would cite."""
    return next((m for m in context_metrics(ctx) if m.value not in (0, 1)), None)


def answer(*insights: dict[str, Any]) -> str:
    return json.dumps({"insights": list(insights)})


def grounded_answer(body: dict[str, Any]) -> str:
    """A valid InsightList citing one number taken from the request's context, in its unit."""
    ctx = _context(body)
    m = first_metric(ctx)
    name = re.sub(r"\[\d+\]", "", m.path.rsplit(".", 1)[-1]).replace("_", " ") if m else ""
    text = f"The {name} stands at {written(m, ctx.get('currency'))}." if m else "Nothing moved."
    return answer({
        "headline": "A grounded headline", "observation": text, "recommendation": "Keep watching it.",
        "priority": "medium", "evidence": [{"metric": m.path, "value": m.value}] if m else [],
    })  # fmt: skip


def coincidental_answer(body: dict[str, Any]) -> str:
    """Cohorts: the newest cohorts' month-1 retention written with the earlier cohorts' value (a number
    that is in the context, but not the cited metric's)."""
    h = _context(body)["retention"]["month_1"]
    return answer({
        "headline": "Month-1 retention of the newest cohorts",
        "observation": f"The newest cohorts retained {rules.pct(h['earlier_retained_rate'])} in month 1.",
        "recommendation": "Keep watching it.", "priority": "medium",
        "evidence": [{"metric": "retention.month_1.newest_retained_rate", "value": h["newest_retained_rate"]}],
    })  # fmt: skip


def wrong_direction_answer(body: dict[str, Any]) -> str:
    """Cohorts: the month-1 retention difference with the opposite direction word."""
    d = _context(body)["retention"]["month_1"]["retained_points"]
    return answer({
        "headline": "Month-1 retention moved",
        "observation": f"Month-1 retention of the newest cohorts {'fell' if d > 0 else 'rose'} "
        f"{rules.points(d)} vs earlier cohorts.",
        "recommendation": "Keep watching it.", "priority": "high",
        "evidence": [{"metric": "retention.month_1.retained_points", "value": d}],
    })  # fmt: skip


def ungrounded_answer(body: dict[str, Any]) -> str:
    return json.dumps({"insights": [{
        "headline": "Revenue jumped 987654.321",
        "observation": "Sales grew by 424242 units.",
        "recommendation": "Do more.",
        "priority": "high",
        "evidence": [],
    }]})  # fmt: skip


@dataclass
class FakeOpenAI:
    """Scripted `/v1/chat/completions`: each item is (status, content-or-callable); empty script ->
    grounded answers. Records every request body."""

    script: list[tuple[int, str | Callable[[dict], str]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    raw_bodies: list[bytes] = field(default_factory=list)
    url: str = ""
    finish_reason: str = "stop"

    async def completions(self, request: Request) -> JSONResponse:
        raw = await request.body()
        self.raw_bodies.append(raw)
        body = json.loads(raw)
        self.requests.append(body)
        status, content = self.script.pop(0) if self.script else (200, grounded_answer)
        if status != 200:
            return JSONResponse(
                {"error": {"message": "scripted", "type": "rate_limit"}}, status_code=status,
                headers={"retry-after-ms": "10"},
            )  # fmt: skip
        text = content(body) if callable(content) else content
        return JSONResponse({
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": self.finish_reason}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
        })  # fmt: skip


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    app = Starlette(routes=[Route("/v1/chat/completions", fake.completions, methods=["POST"])])
    with BackgroundServer(app) as server:
        fake.url = f"{server.url}/v1"
        yield fake
