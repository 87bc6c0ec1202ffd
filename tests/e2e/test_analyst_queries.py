"""Tier 5: the analyst queries of docs/analyst_queries.md run as `reporter` after a nightly run on the
tiny shop (Shopify, Meta, GA4, events) and give numbers that agree with the raw data:
spend in the long mart equals each platform's (Meta's, Google Ads') raw spend per day, attributed revenue per model equals
the attributed orders' revenue."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "analyst_queries.md"
BLOCK = re.compile(r"```sql\n-- query: (?P<name>\w+)\n(?P<sql>.*?)```", re.S)


def doc_queries() -> dict[str, str]:
    return {m["name"]: m["sql"] for m in BLOCK.finditer(DOC.read_text())}


def _rows(warehouse, sql: str, params: tuple = ()) -> list[dict]:
    with psycopg.connect(warehouse.role_url("reporter")) as conn:
        cur = conn.execute(sql, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_the_doc_holds_the_three_queries():
    assert set(doc_queries()) == {
        "cac_roas_by_channel_month",
        "contribution_margin_by_month",
        "ltv_to_cac_by_channel",
        "data_driven_roas_by_channel_month",
    }


def test_cac_and_roas_by_channel_by_month(nightly, warehouse):
    rows = _rows(warehouse, doc_queries()["cac_roas_by_channel_month"])
    assert {(r["channel"], r["platform"]) for r in rows} == {
        ("Paid Social", "meta_ads"),
        ("Paid Search", "google_ads"),
    }
    months = {r["month"] for r in rows}
    assert len(months) >= 2
    for r in rows:
        if r["spend"] > 0:
            assert r["roas"] is not None and r["roas"] >= 0
    assert any(r["cac"] is not None and r["cac"] > 0 for r in rows)
    assert any(r["poas"] is not None and r["poas"] > 0 for r in rows)


def test_contribution_margin_by_month(nightly, warehouse):
    rows = _rows(warehouse, doc_queries()["contribution_margin_by_month"])
    assert len(rows) >= 2
    for r in rows:
        assert (
            r["contribution_margin"]
            == r["net_sales"] - r["cogs"] - r["net_shipping_cost"] - r["payment_fees"]
        )
        assert 0 < r["contribution_margin_rate"] < 1


def test_ltv_to_cac_by_acquisition_channel(nightly, warehouse):
    rows = _rows(warehouse, doc_queries()["ltv_to_cac_by_channel"])
    channels = {r["channel"] for r in rows}
    assert {"Paid Social", "Paid Search"} <= channels
    for r in rows:
        assert r["ltv"] > 0 and r["cac"] > 0 and r["ltv_to_cac"] == pytest.approx(float(r["ltv"] / r["cac"]))
        assert 0 < r["margin_ltv"] < r["ltv"]  # margin-based value: below revenue, above zero
        assert r["margin_ltv_to_cac"] == pytest.approx(float(r["margin_ltv"] / r["cac"]))


def test_long_mart_spend_equals_each_platforms_raw_spend_per_day(nightly, warehouse):
    for model in ("first_touch", "linear"):
        mart = _rows(
            warehouse,
            "select platform, date_day, sum(spend) as spend from marts.fct_channel_performance_daily "
            "where attribution_model = %s and platform is not null group by 1, 2",
            (model,),
        )
        with psycopg.connect(warehouse.role_url("admin")) as conn:
            raw = conn.execute(
                "select 'meta_ads', cast(date_start as date), sum(cast(spend as numeric)) from meta_ads.ads_insights "
                "group by 1, 2 union all "
                "select 'google_ads', cast(date as date), sum(cost_micros) / 1000000.0 from google_ads.campaign_daily "
                "group by 1, 2"
            ).fetchall()
        ours = {(r["platform"], r["date_day"]): r["spend"] for r in mart if r["spend"] != 0}
        theirs = {(p, d): Decimal(s) for p, d, s in raw if s != 0}
        assert {p for p, _ in theirs} == {"meta_ads", "google_ads"}
        assert ours == theirs


def test_long_mart_attributed_revenue_per_model_equals_the_orders_revenue(nightly, warehouse):
    rows = _rows(
        warehouse,
        "select attribution_model, sum(attributed_revenue) as revenue, sum(attributed_conversions) as orders "
        "from marts.fct_channel_performance_daily group by 1",
    )
    (total, count) = _rows(
        warehouse,
        "select sum(total_price) as total, count(*) as n from marts.fct_orders where order_id in "
        "(select order_id from marts.fct_attribution)",
    )[0].values()
    assert len(rows) == 6
    for r in rows:
        assert r["revenue"] == pytest.approx(float(total), rel=1e-9)
        assert r["orders"] == pytest.approx(count, rel=1e-9)


def test_data_driven_roas_by_channel_by_month(nightly, warehouse):
    """Data-driven credits carry their conversion date: per method, the dated rows add up to the
    attributed orders' revenue, and Paid Search and Paid Social meet their platforms' spend."""
    rows = _rows(warehouse, doc_queries()["data_driven_roas_by_channel_month"])
    methods = {r["method"] for r in rows}
    assert {"markov", "shapley"} <= methods and "markov_channel_level" not in methods
    (total,) = _rows(
        warehouse,
        "select sum(total_price) as total from marts.fct_orders where order_id in "
        "(select order_id from marts.fct_attribution)",
    )[0].values()
    for method in ("markov", "shapley"):
        revenue = sum(r["revenue"] for r in rows if r["method"] == method)
        assert revenue == pytest.approx(float(total), rel=0.01), (
            method
        )  # orders before as_of (the dashboard test: 1 %)
    with_spend = {r["channel"] for r in rows if r["spend"]}
    assert {"Paid Social", "Paid Search"} <= with_spend
    assert all(r["roas"] is None or r["roas"] >= 0 for r in rows)
