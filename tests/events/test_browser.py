"""tracker.js in headless Chromium: a product view and an add-to-cart reach the landing files.

Chromium is Debian's package; the fixture installs it when missing (as root) and fails loudly
otherwise. The browser is driven over the DevTools protocol (websocket) on a private profile.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from ingestion.events.collector import CollectorConfig, running_collector
from ingestion.events.collector.server import running_app
from ingestion.events.landing import closed_landing_files
from ingestion.events.tracker.demo_server import create_demo_app
from tests.conftest import free_port

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0:
            pytest.fail(f"{CHROMIUM} is missing; install it with `sudo apt-get install -y chromium`")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, env=env, capture_output=True)
    assert shutil.which(CHROMIUM), f"{CHROMIUM} not installed"
    return CHROMIUM


class DevTools:
    """The few DevTools-protocol calls the test needs, over one page target's websocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except AssertionError:
                value = None  # page navigating: the context is gone for a moment
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[DevTools]:
    port = free_port()
    proc = subprocess.Popen(
        [
            chromium,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        targets: list[dict] = []
        while time.monotonic() < deadline and not targets:
            try:
                targets = [
                    t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page"
                ]
            except httpx.HTTPError:
                time.sleep(0.2)
        assert targets, "chromium did not expose a page target"
        with connect(targets[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=20) as ws:
            yield DevTools(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
