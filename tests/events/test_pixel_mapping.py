"""The Shopify Web Pixel mapping (ingestion/events/pixel) on a corpus of Shopify payloads.

The corpus (tests/events/fixtures/shopify_pixel_events.json) holds Shopify standard events in the shapes
of shopify.dev's Web Pixels reference, each with the journey event it must map to, written out by hand.
tests/events/test_pixel_browser.py runs the same corpus through pixel.js in Chromium.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ingestion.events import validate
from ingestion.events.pixel import default_mapping, map_shopify_event, render_pixel
from ingestion.events.pixel.mapping import PixelMapping, load_mapping

FIXTURE = Path(__file__).parent / "fixtures" / "shopify_pixel_events.json"
CORPUS = json.loads(FIXTURE.read_text())
CASES = CORPUS["cases"]
TRACKER_JS = Path(__file__).parents[2] / "ingestion" / "events" / "tracker" / "tracker.js"


def _state(case: dict) -> dict:
    return copy.deepcopy(case.get("state", CORPUS["state"]))


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_each_shopify_event_maps_to_the_expected_event(case: dict) -> None:
    assert map_shopify_event(case["event"], _state(case)) == case["expected"]


def test_the_corpus_covers_every_mapped_shopify_event() -> None:
    mapped = {c["event"]["name"] for c in CASES if c["expected"] is not None}
    assert mapped == set(default_mapping().event_names)
    assert any(c["expected"] is None and c["event"]["name"] == "page_viewed" for c in CASES), (
        "a theme page view"
    )


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_nothing_without_analytics_consent(case: dict) -> None:
    state = _state(case)
    state["customerPrivacy"] = {**state["customerPrivacy"], "analyticsProcessingAllowed": False}
    assert map_shopify_event(case["event"], state) is None
    state["customerPrivacy"] = {}  # nothing known yet: no consent
    assert map_shopify_event(case["event"], state) is None


def test_no_click_ids_without_marketing_consent() -> None:
    case = next(c for c in CASES if c["case"] == "checkout_completed")
    state = _state(case)
    assert case["expected"]["context"]["clickIds"]["fbclid"], "the fixture stores a click id"
    state["customerPrivacy"]["marketingAllowed"] = False
    got = map_shopify_event(case["event"], state)
    assert got is not None
    assert got["context"]["clickIds"] == {"fbclid": None, "gclid": None}
    assert got["context"]["consent"] == {"analytics": True, "marketing": False, "source": "shopify"}
    expected = copy.deepcopy(case["expected"])
    expected["context"]["clickIds"] = got["context"]["clickIds"]
    expected["context"]["consent"] = got["context"]["consent"]
    assert got == expected, "only the click ids and the consent differ"


@pytest.mark.parametrize("case", [c for c in CASES if c["expected"]], ids=lambda c: c["case"])
def test_mapped_events_pass_the_collectors_rules(case: dict) -> None:
    event = map_shopify_event(case["event"], _state(case))
    raw = orjson.dumps(event)
    value, reason = validate.parse_json(raw)
    assert reason is None
    assert validate.structure_reason(value, raw) is None
    received = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")) + timedelta(seconds=2)
    assert validate.event_reason(value, received) is None


def test_device_rules_are_the_trackers() -> None:
    """mapping.json says it uses tracker.js's regexes: pin that against tracker.js's source."""
    source = TRACKER_JS.read_text()
    for rule in load_mapping()["device"]["rules"]:
        assert re.search(r"/" + re.escape(rule["pattern"]) + r"/i\.test\(", source), rule


def test_device_type_follows_the_user_agent() -> None:
    mapping = default_mapping()
    assert mapping.device_type("Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) Mobile/15E148") == "tablet"
    assert mapping.device_type("Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36") == "mobile"
    assert mapping.device_type("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0") == "desktop"
    assert mapping.device_type(None) == "desktop"


def test_value_specs_convert_like_pixel_js() -> None:
    spec = load_mapping()
    spec["events"] = {
        "x": {
            "type": "track",
            "event": "X",
            "properties": {
                "n_str": {"path": "event.data.a", "to": "number"},
                "n_hex": {"path": "event.data.b", "to": "number"},
                "n_blank": {"path": "event.data.c", "to": "number"},
                "n_bool": {"path": "event.data.d", "to": "number"},
                "id_gid": {"path": "event.data.e", "to": "id"},
                "id_int": {"path": "event.data.f", "to": "id"},
                "idx": {"path": "event.data.g.1"},
                "missing": {"path": "event.data.nope.deeper"},
            },
        }
    }
    event = {
        "id": "sh-1",
        "name": "x",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "clientId": "c",
        "context": {},
        "data": {"a": " 12.5 ", "b": "0x10", "c": "", "d": True, "e": "gid://shopify/Order/42?key=1", "f": 7,
                 "g": ["a", "b"]},
    }  # fmt: skip
    state = {"customerPrivacy": {"analyticsProcessingAllowed": True}}
    got = PixelMapping(spec).map(event, state)
    assert got is not None
    assert got["properties"] == {
        "n_str": 12.5, "n_hex": None, "n_blank": None, "n_bool": None, "id_gid": "42", "id_int": "7", "idx": "b",
        "missing": None,
    }  # fmt: skip
    assert got["anonymousId"] == "shopify-c"


def test_an_unknown_value_spec_is_refused() -> None:
    spec = load_mapping()
    spec["events"]["checkout_started"]["properties"]["bad"] = {"lookup": "x"}
    with pytest.raises(ValueError, match="unknown value spec"):
        PixelMapping(spec)


def test_render_pixel_inlines_the_mapping_and_the_settings() -> None:
    code = render_pixel("https://collect.example/", "wk_123")
    assert "__JOURNEY_" not in code
    settings = re.search(r"var SETTINGS = (\{.*?\});", code)
    assert settings and json.loads(settings.group(1)) == {
        "collector": "https://collect.example",
        "writeKey": "wk_123",
    }
    mapping = re.search(r"var MAPPING = (\{.*\});\n", code)
    assert mapping and json.loads(mapping.group(1)) == {
        k: v for k, v in load_mapping().items() if k != "$comment"
    }
    assert "</" not in mapping.group(1), "safe inside an HTML <script>"
    for bad in ("collect.example", "ftp://collect.example", "https://collect.example/?x=1"):
        with pytest.raises(ValueError, match="collector URL"):
            render_pixel(bad, "wk")
