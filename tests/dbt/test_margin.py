"""Tier 3: margin in fct_orders / fct_order_items on the tiny shop: COGS from Shopify's inventory item
costs, shipping from the orders, and the contribution-margin identity on every order."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import psycopg

SHIPPING_COST, FEE_RATE, FEE_FIXED = Decimal("6.50"), Decimal("0.029"), Decimal("0.30")  # dbt_project.yml


def _mart(raw_tiny, sql: str) -> pd.DataFrame:
    with psycopg.connect(raw_tiny.role_url("reporter")) as conn:
        cur = conn.execute(sql)
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def test_contribution_margin_identity_holds_on_every_order(built_tiny, raw_tiny):
    orders = _mart(raw_tiny, "select * from marts.fct_orders where order_source = 'shopify'")
    assert len(orders) > 0 and orders["contribution_margin"].notna().all()
    expected = orders["net_sales"] - orders["cogs"] - orders["net_shipping_cost"] - orders["payment_fees"]
    assert (orders["contribution_margin"] == expected).all()
    assert (
        orders["net_sales"] == orders["gross_sales"] - orders["discount_amount"] - orders["refunded_amount"]
    ).all()
    assert (orders["net_shipping_cost"] == orders["shipping_cost"] - orders["shipping_revenue"]).all()
    kept = orders[~orders["is_cancelled"]]
    assert (kept["shipping_cost"] == SHIPPING_COST).all()
    fees = (kept["total_price"] * FEE_RATE + FEE_FIXED).map(lambda v: v.quantize(Decimal("0.01")))
    assert (kept["payment_fees"] == fees).all()
    cancelled = orders[orders["is_cancelled"]]
    assert (cancelled[["cogs", "shipping_cost", "payment_fees"]] == 0).all().all()
    # a believable shop: positive margin overall, well below net sales
    assert 0 < kept["contribution_margin"].sum() < Decimal("0.6") * kept["net_sales"].sum()


def test_cogs_and_gross_sales_equal_the_shops_costs_and_prices(built_tiny, raw_tiny, tiny_world):
    """COGS per order = Σ inventory item unit cost x units kept (not refunded, order not cancelled), from
    the generator's own tables; gross sales = Σ price x quantity; shipping = what the order charged."""
    world = {t: pd.read_parquet(tiny_world / f"{t}.parquet") for t in
             ("orders", "order_line_items", "refund_line_items", "product_variants")}  # fmt: skip
    lines = world["order_line_items"].merge(
        world["product_variants"][["variant_id", "unit_cost"]], on="variant_id"
    )
    refunded = world["refund_line_items"].groupby("line_item_id")["quantity"].sum().rename("refunded")
    lines = lines.join(refunded, on="line_item_id").fillna({"refunded": 0})
    lines["cogs"] = lines["unit_cost"] * (lines["quantity"] - lines["refunded"]).map(Decimal)
    lines["gross"] = lines["price"] * lines["quantity"].map(Decimal)
    per_order = lines.groupby("order_id")[["cogs", "gross"]].sum().rename(columns={"cogs": "world_cogs"})
    orders = world["orders"][~world["orders"]["test"]].set_index("order_id").join(per_order)
    orders.loc[orders["cancelled_at"].notna(), "world_cogs"] = Decimal(0)
    ours = _mart(
        raw_tiny,
        "select order_id, cogs, gross_sales, shipping_revenue from marts.fct_orders where order_source = 'shopify'",
    ).set_index("order_id")
    joined = ours.join(orders, how="inner")
    assert len(joined) == len(ours) == len(orders)
    assert (joined["cogs"] == joined["world_cogs"]).all()
    assert (joined["gross_sales"] == joined["gross"]).all()
    assert (joined["shipping_revenue"] == joined["total_shipping"]).all()
    assert sum(ours["cogs"]) == sum(orders["world_cogs"]) > 0


def test_order_lines_carry_cost_and_margin(built_tiny, raw_tiny):
    items = _mart(raw_tiny, "select * from marts.fct_order_items")
    shopify = items[items["order_key"].str.startswith("shopify-")]
    assert shopify["unit_cost"].notna().all()
    assert (shopify["gross_margin"] == shopify["net_amount"] - shopify["cogs"]).all()
    orders = _mart(raw_tiny, "select order_id, cogs from marts.fct_orders where order_source = 'shopify'")
    per_order = shopify.groupby("order_id")["cogs"].sum()
    assert (orders.set_index("order_id")["cogs"] == per_order.reindex(orders["order_id"]).values).all()
