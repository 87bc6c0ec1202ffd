"""The simulated shop's checkout events are the Web Pixel's: they carry its shape and agree with the
shop's own orders (orders.parquet, order_line_items.parquet), which the pixel never reads."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from ingestion.events.pixel import default_mapping

PIXEL_LIBRARY = {"name": "journey-pixel", "version": "1"}
CHECKOUT_EVENTS = {"Checkout Started", "Payment Info Entered", "Checkout Error", "Order Completed"}


def _events(world: Path) -> list[dict]:
    return [
        orjson.loads(line)
        for p in sorted((world / "landing" / "events").rglob("*.jsonl"))
        for line in p.read_bytes().splitlines()
    ]


def test_checkout_events_come_from_the_pixel_and_theme_events_from_the_tracker(tiny_world: Path) -> None:
    events = _events(tiny_world)
    pixel = [e for e in events if e["context"].get("channel") == "pixel"]
    assert pixel, "no pixel events in the tiny world"
    for e in events:
        on_checkout = (e["context"].get("page") or {}).get("path", "").startswith("/checkouts/")
        from_pixel = e.get("event") in CHECKOUT_EVENTS or (e["type"] == "page" and on_checkout)
        assert (e["context"].get("channel") == "pixel") == from_pixel, e["messageId"]
        if from_pixel:
            assert e["context"]["library"] == PIXEL_LIBRARY
            assert e["context"]["consent"] == {"analytics": True, "marketing": True, "source": "shopify"}
            assert e["messageId"].startswith("shopify-sh-")
            device = default_mapping().device_type(e["context"]["userAgent"])
            assert e["context"]["device"] == {"type": device}


def test_order_completed_agrees_with_the_shops_orders(tiny_world: Path) -> None:
    orders = {r["order_id"]: r for r in pq.read_table(tiny_world / "orders.parquet").to_pylist()}
    lines: dict[int, list[dict]] = defaultdict(list)
    for r in pq.read_table(tiny_world / "order_line_items.parquet").to_pylist():
        lines[r["order_id"]].append(r)
    completed = [e for e in _events(tiny_world) if e.get("event") == "Order Completed"]
    assert completed
    for e in completed:
        p = e["properties"]
        order = orders[int(p["order_id"])]
        assert e["anonymousId"] == order["anonymous_id"]
        assert e["userId"] == str(order["customer_id"])
        assert Decimal(str(p["revenue"])) == order["total_price"]
        assert Decimal(str(p["subtotal"])) == order["subtotal_price"]
        assert Decimal(str(p["shipping"])) == order["total_shipping"]
        assert Decimal(str(p["discount"])) == order["total_discounts"]
        assert p["coupon"] == order["discount_code"]
        assert p["checkout_id"] and e["context"]["page"]["path"].startswith(
            "/checkouts/cn/" + p["checkout_id"]
        )
        expected = [
            {"product_id": str(r["product_id"]), "variant_id": str(r["variant_id"]), "sku": r["sku"],
             "name": r["title"], "price": r["price"], "quantity": r["quantity"]}
            for r in lines[order["order_id"]]
        ]  # fmt: skip
        got = [{**x, "price": Decimal(str(x["price"]))} for x in p["products"]]
        assert got == expected, p["order_id"]
