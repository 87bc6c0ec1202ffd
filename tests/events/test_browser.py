"""tracker.js in headless Chromium against a real collector and the demo shop.

A product view and an add-to-cart reach the landing files; consent (opt-in holds and stores nothing,
a refusal deletes the ids, marketing refused drops click ids, regional defaults, Shopify's Customer
Privacy API); identity across pages and reset(); calls made before the async snippet loaded tracker.js.

The browser fixtures (Debian's Chromium over the DevTools protocol) are tests/events/browser.py.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import pytest
from starlette.applications import Starlette

from ingestion.events.collector import CollectorConfig, create_app, running_collector
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


def parse_ts(value: str) -> float:
    """An event timestamp in epoch milliseconds (as the page's Date.now())."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000


# -- tracker.js v2: consent, identity, snippet, Shopify Customer Privacy API ------------------------
@dataclass
class Shop:
    """A demo shop and a real collector; `requests` lists every HTTP request the collector got."""

    url: str
    demo: Starlette
    requests: list[str]
    landing: Path

    def events(self) -> list[dict]:
        """The landed events (call after the servers stopped: the landing files are closed then)."""
        files = closed_landing_files(self.landing)
        return [orjson.loads(line) for p in files for line in p.read_bytes().splitlines()]


def counting(app: Starlette, seen: list[str]):
    """The collector app, noting each HTTP request (method and path) before it is handled."""

    async def wrapped(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(f"{scope['method']} {scope['path']}")
        await app(scope, receive, send)

    return wrapped


@contextlib.contextmanager
def demo_shop(tmp_path: Path, consent: str = "opt-out", hosts: tuple[str, ...] = ()) -> Iterator[Shop]:
    """`hosts`: more host names the shop is opened under (allowed origins of the collector)."""
    landing = tmp_path / "landing" / "events"
    shop_port = free_port()
    shop_url = f"http://127.0.0.1:{shop_port}"
    origins = (shop_url, *(f"http://{host}:{shop_port}" for host in hosts))
    config = CollectorConfig(landing_dir=landing, cors_origins=origins, write_key="demo-key")
    seen: list[str] = []
    with running_app(counting(create_app(config), seen)) as collector_url:
        demo = create_demo_app(collector_url, write_key="demo-key", consent=consent)
        with running_app(demo, port=shop_port):
            yield Shop(shop_url, demo, seen, landing)


def open_page(browser: DevTools, url: str) -> None:
    browser.call("Page.navigate", url=url)
    browser.wait_for("document.readyState === 'complete' && !!(window.journey && window.journey.loaded)")


def stored_state(browser: DevTools) -> dict:
    """Everything the page's origin keeps: all cookies of the browser, localStorage, sessionStorage."""
    cookies = {c["name"]: c["value"] for c in browser.call("Network.getAllCookies")["cookies"]}
    storage = browser.evaluate(
        "JSON.stringify({local: Object.assign({}, localStorage), session: Object.assign({}, sessionStorage),"
        " cookie: document.cookie})"
    )
    return {"cookies": cookies, **orjson.loads(storage)}


def flushed(browser: DevTools) -> None:
    """Send what is queued and wait until the tracker announced the batch (`journey:sent`)."""
    before = browser.evaluate("journeyDemo.sent.length")
    assert browser.evaluate("journey.flush()") >= 1
    browser.wait_for(f"journeyDemo.sent.length > {before}")


def consent_cookie(state: dict) -> dict:
    return orjson.loads(unquote(state["cookies"]["_journey_consent"]))


@pytest.mark.browser
def test_opt_in_stores_and_sends_nothing_before_consent_then_the_held_events(
    browser: DevTools, tmp_path: Path
) -> None:
    with demo_shop(tmp_path, consent="opt-in") as shop:
        open_page(browser, f"{shop.url}/?utm_source=facebook&utm_campaign=spring&fbclid=FB1")
        browser.evaluate("journey.track('Banner Seen', {n: 1}); journey.identify('u-7', {plan: 'pro'})")
        assert browser.evaluate("journey.flush()") == 0
        time.sleep(0.5)  # a stray timer flush would have gone out by now
        assert browser.evaluate("!document.getElementById('consent-banner').hidden")
        assert browser.evaluate("journeyDemo.held.length") == 3
        assert shop.requests == [], "the tracker called the collector before consent"
        assert stored_state(browser) == {"cookies": {}, "local": {}, "session": {}, "cookie": ""}
        assert shop.demo.state.cart["attributes"] == {}
        consent_at = browser.evaluate("Date.now()")
        browser.evaluate("document.getElementById('consent-accept').click()")
        browser.wait_for("journeyDemo.sent.length === 1")
        sent = browser.evaluate("journeyDemo.sent[0]")
        assert (sent["status"], sent["transport"], sent["response"]) == (
            200,
            "fetch",
            {"success": True, "accepted": 3},
        )
        state = stored_state(browser)
        assert consent_cookie(state) == {"analytics": True, "marketing": True}
        assert state["cookies"]["_journey_aid"] == browser.evaluate("journey.anonymousId()")
        assert state["cookies"]["_journey_uid"] == "u-7"
        assert browser.evaluate("document.getElementById('consent-banner').hidden")
        deadline = time.monotonic() + 10
        while shop.demo.state.cart["attributes"].get("_journey_anonymous_id") is None:
            assert time.monotonic() < deadline, "cart attribute never written after consent"
            time.sleep(0.1)
    events = shop.events()
    assert [(e["type"], e.get("event")) for e in events] == [
        ("page", None), ("track", "Banner Seen"), ("identify", None)
    ]  # fmt: skip
    assert all(parse_ts(e["timestamp"]) < consent_at for e in events), "held events lost their own time"
    for e in events:
        assert e["context"]["consent"] == {"analytics": True, "marketing": True, "source": "visitor"}
        assert e["context"]["channel"] == "browser"
        assert e["context"]["library"] == {"name": "journey-tracker.js", "version": "2"}
        assert e["context"]["clickIds"] == {"fbclid": "FB1", "gclid": None}
    assert events[2]["userId"] == "u-7" and events[2]["traits"] == {"plan": "pro"}


@pytest.mark.browser
def test_declining_sends_and_stores_nothing_but_the_refusal(browser: DevTools, tmp_path: Path) -> None:
    with demo_shop(tmp_path, consent="opt-in") as shop:
        open_page(browser, f"{shop.url}/products/hydrating-serum?gclid=G1")
        browser.evaluate("document.getElementById('consent-decline').click()")
        assert browser.evaluate("journey.track('After Decline')") is None
        browser.evaluate("document.getElementById('add-to-cart').click()")
        browser.wait_for("document.getElementById('status').textContent === 'added'")
        open_page(browser, f"{shop.url}/")  # the refusal is remembered: no banner, still nothing sent
        assert browser.evaluate("document.getElementById('consent-banner').hidden")
        assert browser.evaluate("journey.consentState()") == {
            "analytics": False, "marketing": False, "source": "visitor", "pending": False
        }  # fmt: skip
        assert browser.evaluate("journey.flush()") == 0
        time.sleep(0.3)
        state = stored_state(browser)
        assert shop.requests == []
        assert list(state["cookies"]) == ["_journey_consent"]
        assert consent_cookie(state) == {"analytics": False, "marketing": False}
        assert (state["local"], state["session"]) == ({}, {})
        assert shop.demo.state.cart["attributes"] == {}
    assert shop.events() == []


@pytest.mark.browser
def test_withdrawing_consent_deletes_the_ids_and_stops_sending(browser: DevTools, tmp_path: Path) -> None:
    with demo_shop(tmp_path, consent="opt-out") as shop:
        open_page(browser, f"{shop.url}/products/hydrating-serum")
        browser.evaluate("document.getElementById('login').click()")
        flushed(browser)
        browser.evaluate("document.getElementById('add-to-cart').click()")
        browser.wait_for("document.getElementById('status').textContent === 'added'")
        deadline = time.monotonic() + 10
        while "_journey_anonymous_id" not in shop.demo.state.cart["attributes"]:
            assert time.monotonic() < deadline, "cart attribute never written"
            time.sleep(0.1)
        assert {"_journey_aid", "_journey_uid"} <= set(stored_state(browser)["cookies"])
        requests = len(shop.requests)
        browser.evaluate("journey.track('Queued Then Refused'); journey.consent({analytics: false})")
        assert browser.evaluate("journey.track('After Refusal')") is None
        time.sleep(2.5)  # past the flush interval: the queued event must not go out
        state = stored_state(browser)
        assert list(state["cookies"]) == ["_journey_consent"]
        assert (state["local"], state["session"]) == ({}, {})
        assert len(shop.requests) == requests
        deadline = time.monotonic() + 10
        while "_journey_anonymous_id" in shop.demo.state.cart["attributes"]:
            assert time.monotonic() < deadline, "the cart kept the anonymous id after the refusal"
            time.sleep(0.1)
    names = [e.get("event") for e in shop.events()]
    assert "Product Viewed" in names and "Queued Then Refused" not in names and "After Refusal" not in names


@pytest.mark.browser
def test_identity_survives_navigation_and_reset_clears_it(browser: DevTools, tmp_path: Path) -> None:
    with demo_shop(tmp_path) as shop:
        open_page(browser, f"{shop.url}/")
        first_aid = browser.evaluate("journey.anonymousId()")
        browser.evaluate("document.getElementById('login').click()")
        flushed(browser)
        state = stored_state(browser)
        assert state["cookies"]["_journey_uid"] == state["local"]["_journey_uid"] == "customer-1001"
        assert "ada@example.com" not in orjson.dumps(state).decode(), "traits must stay in memory"
        open_page(browser, f"{shop.url}/products/hydrating-serum")  # no identify on this page
        assert browser.evaluate("journey.user().userId") == "customer-1001"
        flushed(browser)
        browser.evaluate("document.getElementById('logout').click()")
        second_aid = browser.evaluate("journey.anonymousId()")
        browser.evaluate("journey.track('After Logout')")
        flushed(browser)
        state = stored_state(browser)
        assert "_journey_uid" not in state["cookies"] and "_journey_uid" not in state["local"]
        assert state["cookies"]["_journey_aid"] == state["local"]["_journey_aid"] == second_aid
        assert browser.evaluate("journey.user()") == {"anonymousId": second_aid, "userId": None, "traits": {}}
        open_page(browser, f"{shop.url}/")
        flushed(browser)
    assert second_aid != first_aid
    by_page = [(e["context"]["page"]["path"], e["type"], e.get("event"), e["anonymousId"], e.get("userId"))
               for e in shop.events()]  # fmt: skip
    assert ("/", "identify", None, first_aid, "customer-1001") in by_page
    assert ("/products/hydrating-serum", "track", "Product Viewed", first_aid, "customer-1001") in by_page
    assert ("/products/hydrating-serum", "track", "After Logout", second_aid, None) in by_page
    assert by_page[-1] == ("/", "page", None, second_aid, None)


@pytest.mark.browser
def test_calls_made_before_the_script_loads_arrive_in_order(browser: DevTools, tmp_path: Path) -> None:
    with demo_shop(tmp_path) as shop:
        browser.call("Page.navigate", url=f"{shop.url}/?tracker_delay=3")  # 2 s of slack on a busy machine
        # the page's own calls (init in <head>, page() at the end of <body>) are queued once it is parsed
        browser.wait_for("document.readyState !== 'loading' && !!(window.journey && window.journey.invoked)")
        queued = browser.evaluate(
            "(function () { var early = !journey.loaded;"
            " journey.track('Early 1', {n: 1}); journey.identify('u-early'); journey.track('Early 2', {n: 2});"
            " return early && Array.isArray(journey) && journey.length; })()"
        )
        assert queued == 5, "the calls were not queued by the snippet (init, page, 3 calls)"
        browser.wait_for("window.journey.loaded === true")
        loaded_at = browser.evaluate("Date.now()")
        flushed(browser)
        assert shop.requests == ["POST /v1/batch"]
    events = shop.events()
    assert [(e["type"], e.get("event"), e.get("userId")) for e in events] == [
        ("page", None, None), ("track", "Early 1", None), ("identify", None, "u-early"),
        ("track", "Early 2", "u-early"),
    ]  # fmt: skip
    stamps = [parse_ts(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps) and stamps[-1] < loaded_at - 1000, "replayed calls lost their own time"
    assert {e["context"]["consent"]["source"] for e in events} == {"default"}


@pytest.mark.browser
def test_without_marketing_consent_events_carry_no_click_ids(browser: DevTools, tmp_path: Path) -> None:
    with demo_shop(tmp_path, consent="opt-in") as shop:
        open_page(browser, f"{shop.url}/?region=DE&utm_source=google&utm_medium=cpc&gclid=G9&fbclid=F9")
        assert browser.evaluate("journey.consentState().pending"), "DE is in the EU: opt-in"
        browser.evaluate("document.getElementById('consent-analytics').click()")
        browser.wait_for("journeyDemo.sent.length === 1")
        state = stored_state(browser)
        assert consent_cookie(state) == {"analytics": True, "marketing": False}
        assert "G9" not in state["session"]["_journey_campaign"]
        browser.evaluate("document.querySelector('a.product').click()")
        browser.wait_for("location.pathname.startsWith('/products/') && !!(window.journey && journey.loaded)")
        flushed(browser)
    events = shop.events()
    assert len(events) == 3
    for e in events:
        assert e["context"]["clickIds"] == {"fbclid": None, "gclid": None}
        assert e["context"]["campaign"] == {"source": "google", "medium": "cpc"}
        assert e["context"]["consent"] == {"analytics": True, "marketing": False, "source": "visitor"}


@pytest.mark.browser
def test_regional_default_and_plain_script_install(browser: DevTools, tmp_path: Path) -> None:
    with demo_shop(tmp_path, consent="opt-in") as shop:
        open_page(browser, f"{shop.url}/?region=US-CA")  # opt-out there although the default is opt-in
        assert browser.evaluate("journey.consentState()") == {
            "analytics": True, "marketing": True, "source": "default", "pending": False
        }  # fmt: skip
        open_page(browser, f"{shop.url}/plain")  # <script data-consent="opt-in">: held
        assert browser.evaluate("journey.consentState().pending")
        browser.evaluate("journey.consent({analytics: true, marketing: true})")
        browser.wait_for("journeyDemo.sent.length === 1")
    paths = [e["context"]["page"]["path"] for e in shop.events()]
    assert sorted(paths) == ["/", "/plain"]


@pytest.mark.browser
def test_shopify_customer_privacy_api_decides_consent(browser: DevTools, tmp_path: Path) -> None:
    with demo_shop(tmp_path, consent="opt-out") as shop:
        # opt-out by our default, but Shopify's API (loaded through loadFeatures) allows nothing yet
        open_page(browser, f"{shop.url}/?shopify=")
        browser.wait_for("!!Shopify.customerPrivacy")
        assert browser.evaluate("Shopify.loadedFeatures") == [
            [{"name": "consent-tracking-api", "version": "0.1"}]
        ]
        assert browser.evaluate("journey.consentState()") == {
            "analytics": False, "marketing": False, "source": "shopify", "pending": True
        }  # fmt: skip
        time.sleep(0.3)
        assert shop.requests == []
        assert stored_state(browser) == {"cookies": {}, "local": {}, "session": {}, "cookie": ""}
        # Shopify's banner: analytics yes, marketing no -> visitorConsentCollected
        browser.evaluate("Shopify.customerPrivacy.setTrackingConsent({analytics: true, marketing: false})")
        browser.wait_for("journeyDemo.sent.length === 1")
        # a page where Shopify allows both: held until its API has loaded, then sent
        open_page(browser, f"{shop.url}/products/hydrating-serum?shopify=analytics,marketing&fbclid=F3")
        browser.wait_for("journeyDemo.sent.length === 1")
    events = shop.events()
    home = [e for e in events if e["context"]["page"]["path"] == "/"]
    product = [e for e in events if e["context"]["page"]["path"] != "/"]
    assert [e["context"]["consent"] for e in home] == [
        {"analytics": True, "marketing": False, "source": "shopify"}
    ]
    assert len(product) == 2
    for e in product:
        assert e["context"]["consent"] == {"analytics": True, "marketing": True, "source": "shopify"}
        assert e["context"]["clickIds"]["fbclid"] == "F3"


@pytest.mark.browser
def test_cookie_domain_shares_the_anonymous_id_across_subdomains(browser: DevTools, tmp_path: Path) -> None:
    # Chromium resolves *.localhost to the loopback address: two subdomains of one shop
    hosts = ("www.shop.localhost", "blog.shop.localhost")
    with demo_shop(tmp_path, hosts=hosts) as shop:
        port = shop.url.rsplit(":", 1)[1]
        open_page(browser, f"http://{hosts[0]}:{port}/?cookie_domain=.shop.localhost")
        aid = browser.evaluate("journey.anonymousId()")
        flushed(browser)
        open_page(browser, f"http://{hosts[1]}:{port}/?cookie_domain=.shop.localhost")
        assert browser.evaluate("journey.anonymousId()") == aid
        flushed(browser)
        cookies = browser.call("Network.getAllCookies")["cookies"]
        assert [(c["name"], c["domain"]) for c in cookies] == [("_journey_aid", ".shop.localhost")]
    events = shop.events()
    assert sorted(urlsplit(e["context"]["page"]["url"]).hostname for e in events) == sorted(hosts)
    assert {e["anonymousId"] for e in events} == {aid}
