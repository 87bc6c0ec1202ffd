"""tracker.js in headless Chromium: a product view and an add-to-cart reach the landing files.

The browser fixtures (Debian's Chromium over the DevTools protocol) are tests/events/browser.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from ingestion.events.collector import CollectorConfig, running_collector
from ingestion.events.collector.server import running_app
from ingestion.events.landing import closed_landing_files
from ingestion.events.tracker.demo_server import create_demo_app
from tests.conftest import free_port
from tests.events.browser import DevTools


@pytest.mark.browser
def test_product_view_and_add_to_cart_reach_the_landing_files(browser: DevTools, tmp_path: Path) -> None:
    landing = tmp_path / "landing" / "events"
    shop_port = free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    config = CollectorConfig(landing_dir=landing, cors_origins=(shop_origin,), write_key="demo-key")
    with running_collector(config) as collector_url:
        demo = create_demo_app(collector_url, write_key="demo-key")
        with running_app(demo, port=shop_port):
            landing_url = f"{shop_origin}/?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring&fbclid=FBCLICK1"
            browser.call("Page.navigate", url=landing_url)
            browser.wait_for("document.readyState === 'complete' && !!window.journey")
            # a real click on the product link: the home page's queue leaves with sendBeacon on pagehide
            browser.evaluate("document.querySelector('a.product').click()")
            browser.wait_for(
                "location.pathname.startsWith('/products/') && document.readyState === 'complete'"
            )
            browser.evaluate("document.getElementById('add-to-cart').click()")
            browser.wait_for("document.getElementById('status').textContent === 'added'")
            anonymous_id = browser.evaluate("journey.anonymousId()")
            assert browser.evaluate("journey.flush()") >= 1
            deadline = time.monotonic() + 10
            while demo.state.cart["attributes"].get("_journey_anonymous_id") is None:
                assert time.monotonic() < deadline, "cart attribute never written"
                time.sleep(0.1)
            assert demo.state.cart["attributes"]["_journey_anonymous_id"] == anonymous_id
            assert demo.state.cart["items"] == [{"id": 1701, "quantity": 1}]
    events = [
        orjson.loads(line) for p in closed_landing_files(landing) for line in p.read_bytes().splitlines()
    ]
    assert not list((tmp_path / "quarantine").rglob("*.jsonl")), "the collector quarantined tracker events"
    kinds = [(e["type"], e.get("event"), e["context"]["page"]["path"]) for e in events]
    assert ("page", None, "/") in kinds
    assert ("page", None, "/products/hydrating-serum") in kinds
    assert ("track", "Product Viewed", "/products/hydrating-serum") in kinds
    assert ("track", "Product Added", "/products/hydrating-serum") in kinds
    assert {e["anonymousId"] for e in events} == {anonymous_id}
    # the campaign and click id of the landing URL stay with the session on later pages
    added = next(e for e in events if e.get("event") == "Product Added")
    assert added["context"]["campaign"] == {"source": "facebook", "medium": "paid_social", "name": "spring"}
    assert added["context"]["clickIds"] == {"fbclid": "FBCLICK1", "gclid": None}
    assert added["properties"]["product_id"] == "17"
    assert all(e["receivedAt"] and e["sentAt"] and e["messageId"] for e in events)
