"""pixel.js in headless Chromium against a real collector: it posts exactly what mapping.py yields.

The page is a stand-in for Shopify's custom-pixel sandbox: it is served with `Content-Security-Policy:
sandbox allow-scripts`, so, like the sandboxed iframe Shopify runs custom pixels in, it has an opaque
origin and its requests carry `Origin: null`; the collector allows only that origin. The page provides a
fake Shopify pixel runtime (`analytics.subscribe`, `browser.cookie.get` / `browser.sessionStorage.getItem`
answering with promises, `init` with `customerPrivacy` and `data`, `api.customerPrivacy.subscribe`),
runs the code of `render_pixel` in it and publishes the corpus of tests/events/fixtures. What lands must
equal the Python mapping's output for the same inputs (except the collector's receivedAt/sentAt): the JS
and Python runtimes of the one mapping agree.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ingestion.events.collector import CollectorConfig, running_collector
from ingestion.events.collector.server import running_app
from ingestion.events.landing import closed_landing_files
from ingestion.events.pixel import map_shopify_event, render_pixel
from tests.events.browser import DevTools

FIXTURE = Path(__file__).parent / "fixtures" / "shopify_pixel_events.json"
CORPUS = json.loads(FIXTURE.read_text())
WRITE_KEY = "pixel-key"

# The fake Shopify pixel runtime. `fetch` is wrapped to count requests, keep their statuses and, when
# asked, fail the next one like a dropped connection.
HARNESS = """<!doctype html><html><head><title>pixel sandbox</title><script>
window.requests = 0; window.statuses = []; window.failNext = 0;
var realFetch = window.fetch.bind(window);
window.fetch = function (url, opts) {
  window.requests += 1;
  if (window.failNext > 0) { window.failNext -= 1; return Promise.reject(new TypeError("Failed to fetch")); }
  return realFetch(url, opts).then(function (r) { window.statuses.push(r.status); return r; });
};
function copy(v) { return JSON.parse(JSON.stringify(v)); }
window.startPixel = function (code, state) {
  var subs = {}, consentSubs = [];
  var init = copy(state.init || {});
  init.customerPrivacy = copy(state.customerPrivacy);
  var analytics = { subscribe: function (name, cb) { (subs[name] = subs[name] || []).push(cb); return Promise.resolve(); } };
  var browser = {
    cookie: { get: function (n) { return Promise.resolve((state.cookies || {})[n] || ""); } },
    sessionStorage: { getItem: function (k) { var s = state.sessionStorage || {}; return Promise.resolve(k in s ? s[k] : null); } }
  };
  var api = { customerPrivacy: { subscribe: function (name, cb) { if (name === "visitorConsentCollected") consentSubs.push(cb); return Promise.resolve(); } } };
  new Function("analytics", "browser", "init", "api", code)(analytics, browser, init, api);
  return {
    publish: function (event) { return Promise.all((subs[event.name] || []).map(function (cb) { return cb(copy(event)); })); },
    consent: function (privacy) { consentSubs.forEach(function (cb) { cb({ customerPrivacy: copy(privacy) }); }); }
  };
};
window.pixels = [];
</script></head><body>sandbox</body></html>"""


def _harness_app() -> Starlette:
    async def page(request):  # noqa: ANN001, ANN202 (starlette endpoint)
        return HTMLResponse(HARNESS, headers={"Content-Security-Policy": "sandbox allow-scripts"})

    return Starlette(routes=[Route("/", page)])


@contextmanager
def _sandbox(browser: DevTools, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A collector that allows only `Origin: null` and the harness page open in Chromium."""
    landing = tmp_path / "landing" / "events"
    config = CollectorConfig(landing_dir=landing, cors_origins=("null",), write_key=WRITE_KEY)
    with running_collector(config) as collector_url, running_app(_harness_app()) as harness_url:
        browser.call("Page.navigate", url=harness_url + "/")
        browser.wait_for("document.readyState === 'complete' && typeof window.startPixel === 'function'")
        assert browser.evaluate("window.origin") == "null", "the page must be sandboxed like Shopify's frame"
        yield render_pixel(collector_url, WRITE_KEY), landing


def _start(browser: DevTools, code: str, state: dict) -> int:
    """A pixel instance with its own fake runtime; returns its index in window.pixels."""
    return browser.evaluate(
        f"window.pixels.push(window.startPixel({json.dumps(code)}, {json.dumps(state)})) - 1"
    )


def _publish(browser: DevTools, pixel: int, event: dict) -> None:
    """Publish and wait until the pixel's chain (mapping and posting) has settled."""
    browser.evaluate(f"window.pixels[{pixel}].publish({json.dumps(event)}).then(function () {{ return 1; }})")


def _landed(landing: Path) -> list[dict]:
    return [orjson.loads(line) for p in closed_landing_files(landing) for line in p.read_bytes().splitlines()]


def _without_transport(event: dict) -> dict:
    return {k: v for k, v in event.items() if k not in ("receivedAt", "sentAt")}


@pytest.mark.browser
def test_pixel_js_posts_what_the_python_mapping_yields(browser: DevTools, tmp_path: Path) -> None:
    expected: dict[str, dict] = {}
    with _sandbox(browser, tmp_path) as (code, landing):
        instances: dict[str, int] = {}
        for case in CORPUS["cases"]:
            state = case.get("state", CORPUS["state"])
            key = json.dumps(state, sort_keys=True)
            if key not in instances:
                instances[key] = _start(browser, code, state)
            _publish(browser, instances[key], case["event"])
            mapped = map_shopify_event(case["event"], copy.deepcopy(state))
            if mapped is not None:
                expected[mapped["messageId"]] = mapped
        assert browser.evaluate("window.statuses") == [200] * len(expected), "one accepted request per event"
    landed = _landed(landing)
    assert not list((tmp_path / "quarantine").rglob("*.jsonl")), "the collector quarantined pixel events"
    assert len(landed) == len(expected) == sum(1 for c in CORPUS["cases"] if c["expected"])
    got = {e["messageId"]: e for e in landed}
    assert set(got) == set(expected)
    for message_id, event in got.items():
        assert event["receivedAt"] and event["sentAt"]
        assert _without_transport(event) == expected[message_id], message_id


@pytest.mark.browser
def test_no_request_before_consent_then_the_events_after_visitor_consent(
    browser: DevTools, tmp_path: Path
) -> None:
    no_consent = {"analyticsProcessingAllowed": False, "marketingAllowed": False,
                  "preferencesProcessingAllowed": False, "saleOfDataAllowed": False}  # fmt: skip
    granted = {**no_consent, "analyticsProcessingAllowed": True}  # analytics yes, marketing no
    cases = {c["case"]: c for c in CORPUS["cases"]}
    before = [cases["checkout_started"]["event"], cases["checkout_contact_info_submitted"]["event"]]
    after = cases["checkout_completed"]["event"]
    refused = cases["payment_info_submitted"]["event"]
    state = {**copy.deepcopy(CORPUS["state"]), "customerPrivacy": no_consent}
    with _sandbox(browser, tmp_path) as (code, landing):
        pixel = _start(browser, code, state)
        for event in before:
            _publish(browser, pixel, event)
        time.sleep(1.0)  # anything the pixel would send has been sent by now
        assert browser.evaluate("window.requests") == 0, "a request before consent"
        assert not list(landing.rglob("*.jsonl*")), "an event landed before consent"

        browser.evaluate("window.failNext = 1")  # the first post after consent meets a dropped connection
        browser.evaluate(f"window.pixels[{pixel}].consent({json.dumps(granted)})")
        browser.wait_for("window.statuses.length === 1")
        assert browser.evaluate("window.requests") == 2, "the failed post is retried once"
        _publish(browser, pixel, after)
        assert browser.evaluate("window.statuses") == [200, 200]

        declined = _start(browser, code, state)  # another visitor who refuses
        _publish(browser, declined, refused)
        browser.evaluate(f"window.pixels[{declined}].consent({json.dumps(no_consent)})")
        time.sleep(1.0)
        assert browser.evaluate("window.requests") == 3, "a request for a visitor who refused"
    landed = _landed(landing)
    consented = {**state, "customerPrivacy": granted}
    expected = [map_shopify_event(e, copy.deepcopy(consented)) for e in [*before, after]]
    assert [_without_transport(e) for e in landed] == expected, (
        "held events leave in order, once, after consent"
    )
    for event in landed:
        assert event["context"]["consent"] == {"analytics": True, "marketing": False, "source": "shopify"}
        assert event["context"]["clickIds"] == {"fbclid": None, "gclid": None}
