"""The YAML definitions validate, the native-query templating behaves like Metabase's, and the dbt
exposures match the definitions and name only models that exist."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from dashboards import native_sql
from dashboards.exposures import EXPOSURES_PATH, render_exposures
from dashboards.model import Dashboard, dump_dashboard, load_dashboards, required_columns
from ingestion.warehouse.paths import PROJECT_ROOT

EXPECTED = {"acquisition", "funnel", "cohorts", "customers", "demand", "insights", "sales", "activation"}
FILTERS = {"date_from", "date_to", "channel", "device_type", "attribution_model"}


def test_every_dashboard_validates(definitions):
    assert {d.key for d in definitions} == EXPECTED
    used = {p.key for d in definitions for p in d.parameters}
    assert used >= FILTERS
    for board in definitions:
        for card in board.cards:
            assert required_columns(card), f"{board.key}.{card.key} declares no columns to check"


def test_attribution_model_selector(definitions):
    acq = next(d for d in definitions if d.key == "acquisition")
    param = acq.parameter("attribution_model")
    assert param.required and param.default in param.values
    assert set(param.values) == {
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "time_decay",
        "position_based",
    }


def test_recommendation_sample_shows_no_personal_data(definitions):
    customers = next(d for d in definitions if d.key == "customers")
    for card in customers.cards:
        shown = set(required_columns(card))
        assert not shown & {"customer_id", "email", "phone", "first_name", "last_name", "city"}, card.key


def test_dump_and_load_round_trip(definitions):
    for board in definitions:
        assert Dashboard.model_validate(yaml.safe_load(dump_dashboard(board))) == board


def _board(**changes) -> dict:
    base = {
        "key": "t",
        "name": "T",
        "parameters": [{"key": "channel", "name": "Channel"}],
        "cards": [
            {
                "key": "c",
                "name": "C",
                "display": "bar",
                "sql": "select channel, 1 as n from marts.fct_sessions where true [[and channel = {{channel}}]]",
                "visualization_settings": {"graph.dimensions": ["channel"], "graph.metrics": ["n"]},
                "layout": {"row": 0, "col": 0, "size_x": 12, "size_y": 4},
            }
        ],
    }
    return base | changes


def _card(**changes) -> dict:
    return _board()["cards"][0] | changes


def test_a_good_board_validates():
    Dashboard.model_validate(_board())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cards": [_card(sql="select 1 as n, 'x' as channel from marts.fct_sessions where channel = {{chanel}}")]}, "not dashboard parameters"),
        ({"parameters": [{"key": "channel", "name": "C"}, {"key": "device_type", "name": "D"}]}, "not used by any card"),
        ({"cards": [_card(sql="select channel, 1 as n from shopify.customers [[where channel = {{channel}}]]")]}, "may only read"),
        ({"cards": [_card(visualization_settings={"graph.dimensions": ["channel"]})]}, "graph.metrics"),
        ({"cards": [_card(display="table", visualization_settings={})]}, "table.columns"),
        ({"cards": [_card(), _card(key="d", layout={"row": 2, "col": 6, "size_x": 6, "size_y": 4})]}, "overlap"),
        ({"cards": [_card(layout={"row": 0, "col": 20, "size_x": 8, "size_y": 4})]}, "overflows"),
        ({"cards": [_card(sql="select channel, 1 as n from marts.fct_sessions where channel = {{channel}}")]}, "needs a default"),
        ({"cards": [_card(sql="select 1 as n [[ and channel = {{channel}} ]")]}, "unbalanced"),
        ({"cards": [_card(), _card()]}, "duplicate card keys"),
    ],
    ids=["unknown-tag", "unused-filter", "raw-schema", "missing-metric", "table-columns", "overlap",
         "grid", "required-tag-without-default", "unbalanced-clause", "duplicate-key"],
)  # fmt: skip
def test_invalid_definitions_are_rejected(changes, message):
    with pytest.raises(ValueError, match=message):
        Dashboard.model_validate(_board(**changes))


# -- templating ---------------------------------------------------------------------------------------
TYPES = {"channel": "text", "date_from": "date", "model": "text", "n": "number"}
SQL = "select * from t where model = {{ model }} [[and channel = {{channel}}]] [[and d >= {{date_from}}]] limit {{n}}"


def test_optional_clauses_drop_without_a_value():
    out = native_sql.render(SQL, {"model": "linear", "channel": None, "date_from": None, "n": 5}, TYPES)
    assert out == "select * from t where model = 'linear'   limit 5"


def test_values_become_literals():
    values = {"model": "linear", "channel": "O'Brien", "date_from": dt.date(2024, 3, 1), "n": 5}
    out = native_sql.render(SQL, values, TYPES)
    assert "channel = 'O''Brien'" in out and "d >= date '2024-03-01'" in out


def test_missing_required_tag_and_braces_in_values():
    with pytest.raises(native_sql.TemplateError, match="model"):
        native_sql.render(SQL, {"model": None, "channel": None, "date_from": None, "n": 1}, TYPES)
    out = native_sql.render(SQL, {"model": "{{channel}}", "channel": None, "date_from": None, "n": 1}, TYPES)
    assert "'{{channel}}'" in out  # substituted once, never re-read
    assert native_sql.required_tags(SQL) == {"model", "n"}


# -- dbt exposures ------------------------------------------------------------------------------------
def _dbt_models() -> set[str]:
    return {p.stem for p in (PROJECT_ROOT / "dbt_project" / "models").rglob("*.sql")}


def test_exposures_file_is_current_and_refs_exist(definitions):
    assert EXPOSURES_PATH.read_text() == render_exposures(definitions), "run `journey dashboards exposures`"
    exposures = yaml.safe_load(EXPOSURES_PATH.read_text())["exposures"]
    assert {e["name"] for e in exposures} == {f"metabase_{k}" for k in EXPECTED}
    models = _dbt_models()
    for exp in exposures:
        assert exp["type"] == "dashboard" and exp["owner"]["email"] and exp["url"]
        for ref in exp["depends_on"]:
            name = ref.removeprefix("ref('").removesuffix("')")
            assert name in models, f"{exp['name']} depends on unknown model {name}"


def test_every_card_reads_known_tables(definitions):
    models = _dbt_models()
    for board in definitions:
        for schema, table in (t for c in board.cards for t in c.tables()):
            if schema == "marts":
                assert table in models, f"{board.key}: marts.{table} is not a dbt model"


def test_load_dashboards_reports_the_file(tmp_path):
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(_board(cards=[])))
    with pytest.raises(ValueError, match="bad.yml"):
        load_dashboards(tmp_path)


# -- field filters (dropdowns of a column's values, relative date ranges) ----------------------------


def test_sales_overview_filters_are_field_filters_with_a_relative_default(definitions):
    sales = next(d for d in definitions if d.key == "sales")
    period, channel = sales.parameter("period"), sales.parameter("channel")
    assert period.type == "date_range" and period.default == "past12months"
    assert channel.type == "category"
    for card in sales.cards:
        fields = sales.tag_fields(card)
        assert set(fields) == {"period", "channel"} and all(fields.values()), card.key
    assert {c.display for c in sales.cards} >= {"smartscalar", "bar", "table"}


def test_channel_and_device_filters_are_dropdowns(definitions):
    for board in definitions:
        for param in board.parameters:
            if param.key in ("channel", "device_type", "attribution_model"):
                assert param.values or param.is_field_filter, f"{board.key}.{param.key} is free text"


def _field_board(sql: str, fields: list[str]) -> dict:
    return {
        "key": "t", "name": "T",
        "parameters": [{"key": "channel", "name": "Channel", "type": "category", "fields": fields}],
        "cards": [{"key": "c", "name": "C", "display": "scalar", "sql": sql,
                   "visualization_settings": {"scalar.field": "n"}, "layout": {"row": 0, "col": 0, "size_x": 4, "size_y": 3}}],
    }  # fmt: skip


def test_a_field_filter_must_be_a_whole_condition_on_a_table_the_card_reads():
    ok = "select count(*) as n from marts.fct_orders where true [[and {{channel}}]]"
    Dashboard.model_validate(_field_board(ok, ["marts.fct_orders.first_touch_channel"]))
    with pytest.raises(ValueError, match="is a field filter"):
        Dashboard.model_validate(_field_board(
            "select count(*) as n from marts.fct_orders where true [[and first_touch_channel = {{channel}}]]",
            ["marts.fct_orders.first_touch_channel"],
        ))  # fmt: skip
    with pytest.raises(ValueError, match="has no field on the tables it reads"):
        Dashboard.model_validate(_field_board(ok, ["marts.fct_sessions.channel"]))
    with pytest.raises(ValueError, match="needs `fields`"):
        Dashboard.model_validate(_field_board(ok, []))


def test_field_filters_render_as_metabase_conditions():
    today = dt.date(2025, 6, 29)
    sql = "select 1 from marts.fct_orders where true [[and {{period}}]] [[and {{channel}}]]"
    types = {"period": "date_range", "channel": "category"}
    fields = {"period": "marts.fct_orders.order_date", "channel": "marts.fct_orders.first_touch_channel"}
    out = native_sql.render(sql, {"period": "past30days", "channel": "Email"}, types, fields, today=today)
    assert '"marts"."fct_orders"."order_date" >= date \'2025-05-30\'' in out
    assert '"marts"."fct_orders"."order_date" < date \'2025-06-29\'' in out  # today excluded, as Metabase
    assert '"marts"."fct_orders"."first_touch_channel" = \'Email\'' in out
    assert native_sql.date_range("past12months", today) == (dt.date(2024, 6, 1), dt.date(2025, 6, 1))
    assert native_sql.date_range("thismonth", today) == (dt.date(2025, 6, 1), dt.date(2025, 7, 1))
    assert native_sql.date_range("lastmonth", today) == (dt.date(2025, 5, 1), dt.date(2025, 6, 1))
    assert native_sql.date_range("2025-01-01~2025-03-31", today) == (dt.date(2025, 1, 1), dt.date(2025, 4, 1))
    assert native_sql.render(sql, {"period": None, "channel": None}, types, fields).count("{{") == 0
    with pytest.raises(native_sql.TemplateError):
        native_sql.date_range("last fortnight", today)
