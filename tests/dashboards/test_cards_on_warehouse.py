"""Every card's SQL, with its template tags substituted as Metabase would, runs on the built tiny
warehouse as the read-only `reporter` role and returns the columns its visualization needs."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from dashboards import native_sql
from dashboards.model import load_dashboards, required_columns

CARDS = [(board, card) for board in load_dashboards() for card in board.cards]
IDS = [f"{board.key}.{card.key}" for board, card in CARDS]
# cards whose result may legitimately be empty on the tiny shop
MAY_BE_EMPTY = {"demand.outside_interval"}


@pytest.fixture(scope="session")
def data_today(dashboard_warehouse) -> dt.date:
    """The day after the shop's last order: relative date filters (`past12months`) are evaluated as
    Metabase would if the shop's history ended yesterday (the simulated history ends in the past)."""
    with psycopg.connect(dashboard_warehouse.role_url("reporter")) as conn:
        return conn.execute("select max(order_date) + 1 from marts.fct_orders").fetchone()[0]


@pytest.fixture(scope="session")
def filter_values(dashboard_warehouse) -> dict[str, object]:
    """A value for every dashboard filter, taken from the data so that filtered queries return rows."""
    with psycopg.connect(dashboard_warehouse.role_url("reporter")) as conn:
        first, last = conn.execute(
            "select min(date_day), max(date_day) from marts.fct_funnel_daily"
        ).fetchone()
        channel, device = conn.execute(
            "select channel, device_type from marts.fct_funnel_daily group by 1, 2 order by sum(sessions) desc limit 1"
        ).fetchone()
        (campaign,) = conn.execute(
            "select campaign_name from marts.fct_channel_performance_daily where campaign_name is not null "
            "group by 1 order by sum(spend) desc limit 1"
        ).fetchone()
        (segment,) = conn.execute(
            "select segment from marts.fct_segment_sizes_daily order by members desc, segment limit 1"
        ).fetchone()
    return {
        "date_from": first + (last - first) / 3,
        "date_to": last,
        "channel": channel,
        "device_type": device,
        "attribution_model": "linear",
        "campaign": campaign,
        "period": f"{first + (last - first) / 3}~{last}",
        "category": "total",
        "topic": "funnel",
        "segment": segment,
    }


def _run(settings, sql: str) -> tuple[list[str], list[tuple]]:
    with psycopg.connect(settings.role_url("reporter")) as conn:
        conn.execute("set statement_timeout = '60s'")
        cur = conn.execute(sql)
        return [c.name for c in cur.description], cur.fetchall()


@pytest.mark.parametrize(("board", "card"), CARDS, ids=IDS)
def test_card_runs_without_filters(dashboard_warehouse, data_today, board, card):
    values = {p.key: p.default for p in board.parameters}
    sql = native_sql.render(card.sql, values, board.tag_types(), board.tag_fields(card), today=data_today)
    assert "{{" not in sql and "[[" not in sql
    columns, rows = _run(dashboard_warehouse, sql)
    missing = set(required_columns(card)) - set(columns)
    assert not missing, f"{board.key}.{card.key} lacks columns {missing}; returned {columns}"
    if f"{board.key}.{card.key}" not in MAY_BE_EMPTY:
        assert rows, f"{board.key}.{card.key} returned no rows on the tiny shop"


@pytest.mark.parametrize(("board", "card"), CARDS, ids=IDS)
def test_card_runs_with_every_filter_set(dashboard_warehouse, filter_values, board, card):
    values = {p.key: filter_values[p.key] for p in board.parameters}
    fields = board.tag_fields(card)
    sql = native_sql.render(card.sql, values, board.tag_types(), fields)
    for tag in card.tags:
        param = board.parameter(tag)
        if param.is_field_filter:
            assert native_sql.condition(fields[tag], values[tag], param.type) in sql, tag
        else:
            assert native_sql.literal(values[tag], param.type) in sql, tag
    columns, _rows = _run(dashboard_warehouse, sql)
    assert set(required_columns(card)) <= set(columns)


def test_filters_narrow_the_results(dashboard_warehouse, filter_values):
    """A filtered card returns what its filter says: the channel filter leaves one channel."""
    board = next(b for b in load_dashboards() if b.key == "funnel")
    card = next(c for c in board.cards if c.key == "conversion_by_channel")
    values = {p.key: None for p in board.parameters} | {"channel": filter_values["channel"]}
    _cols, rows = _run(dashboard_warehouse, native_sql.render(card.sql, values, board.tag_types()))
    assert [r[0] for r in rows] == [filter_values["channel"]]
    values = {p.key: None for p in board.parameters} | {"date_from": dt.date(2999, 1, 1)}
    _cols, rows = _run(dashboard_warehouse, native_sql.render(card.sql, values, board.tag_types()))
    assert rows == []


def test_revenue_by_model_counts_each_models_revenue_once(dashboard_warehouse):
    """Every attribution model of the card, rule-based or data-driven (one per method), sums to the
    attributed revenue once: no model adds up the credits of several methods."""
    board = next(b for b in load_dashboards() if b.key == "acquisition")
    card = next(c for c in board.cards if c.key == "revenue_by_model")
    values = {p.key: None for p in board.parameters}
    _cols, rows = _run(dashboard_warehouse, native_sql.render(card.sql, values, board.tag_types()))
    totals: dict[str, float] = {}
    for _channel, model, revenue in rows:
        totals[model] = totals.get(model, 0.0) + float(revenue)
    data_driven = {m for m in totals if m.startswith("data_driven_")}
    assert {"data_driven_markov", "data_driven_shapley"} <= data_driven
    reference = totals["last_touch"]
    for model, total in totals.items():
        assert total == pytest.approx(reference, rel=0.01), model


def test_sales_overview_matches_the_orders_mart(dashboard_warehouse, data_today):
    """The Sales overview's monthly net revenue and orders equal fct_orders' own sums, and the channel
    dropdown narrows the ROAS table to that channel."""
    board = next(b for b in load_dashboards() if b.key == "sales")
    values = {p.key: p.default for p in board.parameters} | {"period": None}
    by_key = {c.key: c for c in board.cards}
    _c, revenue = _run(dashboard_warehouse, native_sql.render(
        by_key["net_revenue"].sql, values, board.tag_types(), board.tag_fields(by_key["net_revenue"])))  # fmt: skip
    _c, truth = _run(dashboard_warehouse, "select cast(date_trunc('month', order_date) as date), sum(net_revenue) "
                     "from marts.fct_orders where not is_cancelled group by 1 order by 1")  # fmt: skip
    assert revenue == truth and len(revenue) >= 2
    roas = by_key["channel_returns"]
    _c, rows = _run(dashboard_warehouse, native_sql.render(
        roas.sql, values | {"channel": "Paid Search"}, board.tag_types(), board.tag_fields(roas)))  # fmt: skip
    assert [r[:2] for r in rows] == [("Paid Search", "google_ads")] and rows[0][2] > 0
