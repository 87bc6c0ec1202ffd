"""Tier 1-2: the order history export as a source of its own (ingestion/order_history), with nothing but
ORDER_HISTORY_PATH: the reader's shapes (order-level rows, an `items` JSON column, one row per line),
its refusals with file and line, and the dlt load into real Postgres: contract columns, idempotent
re-import, a malformed file loads nothing, corrected lines replace the order's old ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.order_history import (
    OrderHistoryError,
    OrderHistorySettings,
    order_history_pipeline,
    read_order_history,
    run_order_history_pipeline,
)
from ingestion.order_history.source import COLUMNS
from tests.sources._meta_ga4_fixtures import columns, duplicate_keys, query, reset_dataset

PIPELINE = "test_order_history"
DLT_COLUMNS = {"_dlt_load_id", "_dlt_id"}

ORDER_LEVEL = (
    "order_id,customer_id,ordered_at,amount,currency,items\n"
    'legacy-1,7300000000000,2023-05-01T10:00:00Z,49.90,usd,"[{""sku"": ""A"", ""quantity"": 2, ""price"": 24.95}]"\n'
    "legacy-2,ext-991,2023-06-02,12.00,EUR,\n"
    "legacy-3,gid://shopify/Customer/7300000000001,2023-07-03 08:30:00,100,USD,[]\n"
)
# one row per line, headers in another case and order, amount left empty (derived from the lines)
PER_LINE = (
    " Customer_ID ,Order_ID,Ordered_At,Amount,SKU,Title,Quantity,Price,Email\n"
    "C-0001,inv-10,20240301,,85123A,Heart holder,6,2.55,Ann@Example.com\n"
    "C-0001,inv-10,2024-02-29T23:59:00Z,,71053,Lantern,6,3.39,\n"
    "C-0002,inv-11,2024-03-02T09:00:00+02:00,15.30,22752,Glass set,2,7.65,\n"
)


def write(tmp_path, name: str, content: str):
    path = tmp_path / name
    path.write_text(content)
    return path


def test_order_level_rows_with_items_json(tmp_path):
    history = read_order_history(write(tmp_path, "h.csv", ORDER_LEVEL))
    orders = {o["order_id"]: o for o in history.orders}
    assert list(orders) == ["legacy-1", "legacy-2", "legacy-3"]
    assert orders["legacy-1"]["ordered_at"] == datetime(2023, 5, 1, 10, tzinfo=UTC)
    assert orders["legacy-1"]["amount"] == Decimal("49.90") and orders["legacy-1"]["currency"] == "USD"
    assert orders["legacy-2"]["ordered_at"] == datetime(2023, 6, 2, tzinfo=UTC)  # naive = UTC
    assert [
        (i["order_id"], i["line_number"], i["sku"], i["quantity"], i["price"]) for i in history.order_items
    ] == [("legacy-1", 1, "A", 2, Decimal("24.95"))]
    assert history.order_items[0]["source_line"] == 2


def test_one_row_per_line_export(tmp_path):
    history = read_order_history(write(tmp_path, "lines.csv", PER_LINE))
    orders = {o["order_id"]: o for o in history.orders}
    assert orders["inv-10"]["amount"] == Decimal("6") * Decimal("2.55") + Decimal("6") * Decimal("3.39")
    assert orders["inv-10"]["email"] == "Ann@Example.com" and orders["inv-10"]["customer_id"] == "C-0001"
    assert orders["inv-10"]["ordered_at"] == datetime(2024, 2, 29, 23, 59, tzinfo=UTC)  # the earliest line
    assert orders["inv-11"]["amount"] == Decimal("15.30")
    lines = [(i["order_id"], i["line_number"], i["sku"], i["source_line"]) for i in history.order_items]
    assert lines == [("inv-10", 1, "85123A", 2), ("inv-10", 2, "71053", 3), ("inv-11", 1, "22752", 4)]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("order_id,customer_id,amount\n1,2,3\n", ":1: missing required column(s) ordered_at"),
        ("order_id,customer_id,ordered_at,amount\n1,2,yesterday,3\n", ":2: ordered_at 'yesterday' is not an ISO"),
        ("order_id,customer_id,ordered_at,amount\n1,,2024-01-01,3\n", ":2: customer_id is empty"),
        ("order_id,customer_id,ordered_at,amount\n1,2,2024-01-01,3,4\n", ":2: expected 4 fields, got 5"),
        ("order_id,customer_id,ordered_at,amount\n1,2,2024-01-01,3\n1,2,2024-01-02,3\n",
         ":3: order_id '1' already appears at h.csv:2"),
        ("order_id,customer_id,ordered_at,amount,sku,quantity\n1,2,2024-01-01,3,A,1\n1,9,2024-01-01,,B,1\n",
         ":3: customer_id 9 differs from 2"),
        ("order_id,customer_id,ordered_at,amount,sku,quantity,price\n1,2,2024-01-01,,A,1,\n",
         ":2: amount is empty and the order's line items do not all have a price"),
        ("order_id,customer_id,ordered_at,amount,sku,quantity\n1,2,2024-01-01,3,A,1.5\n",
         ":2: quantity '1.5' is not a whole number"),
        ("order_id,customer_id,ordered_at,amount,items\n1,2,2024-01-01,3,\"[{\"\"quantity\"\": 1}]\"\n",
         ":2: items[1]: a line item needs a product_id or a sku"),
        ("order_id,customer_id,ordered_at,amount,currency\n1,2,2024-01-01,3,dollars\n",
         ":2: currency 'dollars' is not a 3-letter code"),
    ],
)  # fmt: skip
def test_malformed_rows_name_file_line_and_reason(tmp_path, content, reason):
    path = write(tmp_path, "h.csv", content)
    with pytest.raises(OrderHistoryError) as info:
        read_order_history(path)
    assert reason in str(info.value) and str(path) in str(info.value)


def test_a_file_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "order_id,customer_id,ordered_at,amount,title\n1,2,2024-01-01,3,ok\n2,2,2024-01-02,3,Cr\xe8me\n".encode(
            "latin-1"
        )
    )
    with pytest.raises(OrderHistoryError) as info:
        read_order_history(path)
    assert f"{path}:3: not UTF-8 text" in str(info.value)


def test_status_needs_only_the_path(tmp_path):
    assert not OrderHistorySettings.status({}).configured
    assert "ORDER_HISTORY_PATH" in OrderHistorySettings.status({}).reason
    assert OrderHistorySettings.status({"ORDER_HISTORY_PATH": str(tmp_path)}).configured
    missing = OrderHistorySettings.status({"ORDER_HISTORY_PATH": str(tmp_path / "nope")})
    assert missing.configured and "does not exist" in missing.reason


# -- the dlt load into Postgres -----------------------------------------------------------------------
@pytest.fixture
def fresh(warehouse):
    reset_dataset(warehouse, "order_history", PIPELINE)
    yield warehouse
    reset_dataset(warehouse, "order_history", PIPELINE)


def load(path) -> None:
    settings = OrderHistorySettings.from_env({"ORDER_HISTORY_PATH": str(path)})
    run_order_history_pipeline(settings, pipeline=order_history_pipeline(pipeline_name=PIPELINE))


def rows(table: str) -> list[tuple]:
    key = "order_id" if table == "orders" else "order_id, line_number"
    cols = ", ".join(c for c in COLUMNS[table])
    return query(f"select {cols} from order_history.{table} order by {key}")


def test_load_is_idempotent_and_follows_the_contract(fresh, tmp_path):
    folder = tmp_path / "history"
    folder.mkdir()
    write(folder, "2023.csv", ORDER_LEVEL)
    write(folder, "2024.csv", PER_LINE)
    pq.write_table(
        pa.table({
            "order_id": ["legacy-4"], "customer_id": ["7300000000002"],
            "ordered_at": [datetime(2023, 8, 1, 12, tzinfo=UTC)], "amount": [pa.scalar(Decimal("5.50"))],
        }),
        folder / "more.parquet",
    )  # fmt: skip
    load(folder)
    for table in COLUMNS:
        assert columns("order_history", table) == set(COLUMNS[table]) | DLT_COLUMNS, table
    orders, items = rows("orders"), rows("order_items")
    assert [r[0] for r in orders] == ["inv-10", "inv-11", "legacy-1", "legacy-2", "legacy-3", "legacy-4"]
    legacy4 = next(r for r in orders if r[0] == "legacy-4")
    assert legacy4[6:] == ("more.parquet", 1)
    assert len(items) == 4
    load(folder)
    assert rows("orders") == orders and rows("order_items") == items
    assert duplicate_keys("order_history", "orders", ("order_id",)) == 0
    assert duplicate_keys("order_history", "order_items", ("order_id", "line_number")) == 0


def test_malformed_file_loads_nothing_and_corrections_replace_lines(fresh, tmp_path):
    good = write(tmp_path, "good.csv", PER_LINE)
    load(good)
    before_orders, before_items = rows("orders"), rows("order_items")
    bad = tmp_path / "bad"
    bad.mkdir()
    write(bad, "a.csv", PER_LINE.replace("inv-", "new-"))
    write(
        bad,
        "b.csv",
        "order_id,customer_id,ordered_at,amount\nx-1,c-1,2023-01-01,10\nx-2,c-2,2023-01-02,ten\n",
    )
    with pytest.raises(PipelineStepFailed) as info:
        load(bad)
    error = info.value.__cause__
    while error is not None and not isinstance(error, OrderHistoryError):
        error = error.__cause__ or error.__context__
    assert isinstance(error, OrderHistoryError), info.value
    assert str(error) == f"order history {bad / 'b.csv'}:3: amount 'ten' is not a number"
    assert rows("orders") == before_orders and rows("order_items") == before_items  # nothing partial
    # the same export with inv-10 corrected to one line: its second line is gone, nothing duplicated
    corrected = write(
        tmp_path, "corrected.csv", "\n".join(PER_LINE.splitlines()[:2] + PER_LINE.splitlines()[3:]) + "\n"
    )
    load(corrected)
    lines = [(r[0], r[1]) for r in rows("order_items")]
    assert lines == [("inv-10", 1), ("inv-11", 1)]


# -- the Dagster asset ----------------------------------------------------------------------------
def _materialize(warehouse, path: str | None):
    import dagster as dg
    from dagster_dlt import DagsterDltResource

    from orchestration.defs.order_history.assets import order_history_assets
    from orchestration.defs.order_history.resources import OrderHistoryFiles
    from orchestration.defs.shared.resources import Warehouse

    resources = {
        "warehouse": Warehouse(port=warehouse.port),
        "order_history_dlt": DagsterDltResource(),
        "order_history_files": OrderHistoryFiles(path=path),
    }
    return dg.materialize([order_history_assets], resources=resources, raise_on_error=False)


def test_asset_is_idle_without_a_path_and_names_the_line_of_a_bad_file(fresh, tmp_path, monkeypatch):
    monkeypatch.delenv("ORDER_HISTORY_PATH", raising=False)
    idle = _materialize(fresh, None)
    assert idle.success
    metadata = {
        m.asset_key.path[-1]: m.metadata for m in idle.asset_materializations_for_node("order_history")
    }
    assert set(metadata) == {"orders", "order_items"}
    assert all(m["source_configured"].value is False for m in metadata.values())
    assert metadata["orders"]["not_configured_because"].value.startswith("set ORDER_HISTORY_PATH")
    bad = write(tmp_path, "bad.csv", "order_id,customer_id,ordered_at,amount\nx-1,c-1,2023-01-01,ten\n")
    failed = _materialize(fresh, str(bad))
    assert not failed.success
    error = failed.failure_data_for_node("order_history").error
    assert f"order history {bad}:2: amount 'ten' is not a number" in error.message
    loaded = _materialize(fresh, str(write(tmp_path, "good.csv", PER_LINE)))
    assert loaded.success
    rows = {
        m.asset_key.path[-1]: m.metadata["dagster/row_count"].value
        for m in loaded.asset_materializations_for_node("order_history")
    }
    assert rows == {"orders": 2, "order_items": 3}


# -- a path that holds no export: an error naming ORDER_HISTORY_PATH and the path, never 0 rows --------
def test_an_empty_or_missing_path_fails_the_load_and_the_check(fresh, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from orchestration.cli import main

    empty, other, missing = tmp_path / "empty", tmp_path / "other", tmp_path / "missing"
    empty.mkdir()
    (other / "2023").mkdir(parents=True)
    write(other / "2023", "orders.xlsx", "not an export")
    cases = {
        empty: "is a folder without any .csv or .parquet file",
        other: "it holds only 2023/orders.xlsx",
        missing: "does not exist",
    }
    for path, reason in cases.items():
        assert "the load will fail" in OrderHistorySettings.status({"ORDER_HISTORY_PATH": str(path)}).reason
        with pytest.raises(PipelineStepFailed) as info:
            load(path)
        error = info.value.__cause__
        while error is not None and not isinstance(error, OrderHistoryError):
            error = error.__cause__ or error.__context__
        assert isinstance(error, OrderHistoryError), info.value
        assert str(path) in str(error) and "ORDER_HISTORY_PATH" in str(error) and reason in str(error)
        monkeypatch.setenv("ORDER_HISTORY_PATH", str(path))
        result = CliRunner().invoke(main, ["sources", "check", "order_history"])
        assert result.exit_code == 1, result.output
        assert "FAILED" in result.output and str(path) in result.output and reason in result.output
    assert query("select to_regclass('order_history.orders'), to_regclass('order_history.order_items')") == [
        (None, None)
    ]  # nothing was loaded, not even empty tables
    # the Dagster asset (what the nightly job runs) fails with the same message
    failed = _materialize(fresh, str(empty))
    assert not failed.success
    assert cases[empty] in failed.failure_data_for_node("order_history").error.message
