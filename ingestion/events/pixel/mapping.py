"""Shopify Web Pixel events -> journey events: the Python twin of pixel.js, reading the same mapping.json.

Why one declarative file with two interpreters: the custom pixel runs in Shopify's browser sandbox
(JavaScript), while the simulated shop and the tests run in Python. Both read `mapping.json` and apply
its value specs with the same small set of rules (its `$comment` lists them), so the warehouse's
checkout events, written by the simulated shop through this module, are exactly what the real pixel
would post; tests/events/test_pixel_browser.py runs pixel.js in Chromium and asserts the landed events
equal this module's output for the same inputs.

The spec is compiled once into closures: the large simulated world maps close to a million checkout
events (~6 % of its events), so the per-event work must stay a handful of dict lookups.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict

MAPPING_PATH = Path(__file__).with_name("mapping.json")

Root = dict[str, Any]
_CACHE_SIZE = 4096
Getter = Callable[[Root], Any]


class PixelState(TypedDict, total=False):
    """What the pixel knows besides the event, as pixel.js gathers it from Shopify's sandbox.

    customerPrivacy: the current `init.customerPrivacy` / `visitorConsentCollected` object
    (analyticsProcessingAllowed, marketingAllowed, ...); init: Shopify's `init` (its `data.customer`
    and `data.checkout` are read); cookies / sessionStorage: the values `browser.cookie.get` /
    `browser.sessionStorage.getItem` returned for the names listed in mapping.json (None when unset).
    """

    customerPrivacy: Mapping[str, Any]
    init: Mapping[str, Any]
    cookies: Mapping[str, str | None]
    sessionStorage: Mapping[str, str | None]


def _walk(value: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _id(value: Any) -> str | None:
    """A Shopify id as our string id: `gid://shopify/Order/123` -> "123", 123 -> "123"."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if value.startswith("gid://"):
            value = value.split("?", 1)[0].rsplit("/", 1)[-1]
        return value or None
    return None


def _nonempty(value: Any) -> Any:
    return None if value == "" else value


CONVERT: dict[str, Callable[[Any], Any]] = {
    "number": _number,
    "id": _id,
    "nonempty": _nonempty,
}


def _present(value: Any) -> bool:
    return value is not None and value != ""


def compile_spec(spec: Any, fragments: Mapping[str, Any]) -> Getter:
    """A value spec of mapping.json as a function of the roots (event, checkout, init, cookies, ...)."""
    if not isinstance(spec, dict):
        raise ValueError(f"a value spec is an object, got {spec!r}")
    if "ref" in spec:
        return compile_spec(fragments[spec["ref"]], fragments)
    if "const" in spec:
        constant = spec["const"]
        return lambda root: constant
    if "path" in spec:
        head, *tail = spec["path"].split(".")
        rest = tuple(tail)
        to = spec.get("to")
        if to is None:
            return lambda root: _walk(root.get(head), rest)
        if to not in CONVERT:
            raise ValueError(f"unknown conversion {to!r} in {spec!r}")
        convert = CONVERT[to]
        return lambda root: convert(_walk(root.get(head), rest))
    if "first" in spec:
        options = [compile_spec(s, fragments) for s in spec["first"]]

        def first(root: Root) -> Any:
            for option in options:
                value = option(root)
                if _present(value):
                    return value
            return None

        return first
    if "concat" in spec:
        pieces = [
            (lambda root, t=p: t) if isinstance(p, str) else compile_spec(p, fragments)
            for p in spec["concat"]
        ]

        def concat(root: Root) -> str | None:
            values = [piece(root) for piece in pieces]
            if any(not isinstance(v, str) or not v for v in values):
                return None  # only text is joined (pixel.js does the same), so both agree on every input
            return "".join(values)

        return concat
    if "each" in spec:
        source = compile_spec({"path": spec["each"]}, fragments)
        fields = [(k, compile_spec(s, fragments)) for k, s in spec["map"].items()]

        def each(root: Root) -> list[dict]:
            items = source(root)
            if not isinstance(items, list):
                return []
            out = []
            for item in items:
                scope = {**root, "item": item}
                out.append({k: g(scope) for k, g in fields})
            return out

        return each
    if "find" in spec:
        source = compile_spec({"path": spec["find"]}, fragments)
        where = list(spec["where"].items())
        take = compile_spec(spec["take"], fragments)

        def find(root: Root) -> Any:
            items = source(root)
            if not isinstance(items, list):
                return None
            for item in items:
                if isinstance(item, dict) and all(item.get(k) == v for k, v in where):
                    return take({**root, "item": item})
            return None

        return find
    raise ValueError(f"unknown value spec {spec!r}")


def _compile_object(specs: Mapping[str, Any], fragments: Mapping[str, Any]) -> Callable[[Root], dict]:
    fields = [(k, compile_spec(s, fragments)) for k, s in specs.items()]
    return lambda root: {k: g(root) for k, g in fields}


class _Rule:
    """One Shopify event name's mapping, compiled."""

    def __init__(self, rule: Mapping[str, Any], fragments: Mapping[str, Any]) -> None:
        self.type = rule["type"]
        self.event = rule.get("event")
        self.name = compile_spec(rule["name"], fragments) if "name" in rule else None
        self.properties = _compile_object(rule.get("properties", {}), fragments)
        when = rule.get("when")
        self.when_value = compile_spec({"path": when["path"]}, fragments) if when else None
        self.when_prefix = when["startsWith"] if when else ""

    def applies(self, root: Root) -> bool:
        if self.when_value is None:
            return True
        value = self.when_value(root)
        return isinstance(value, str) and value.startswith(self.when_prefix)


class PixelMapping:
    """mapping.json compiled; `map(event, state)` is `map_shopify_event`."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        fragments = spec.get("fragments", {})
        self.rules = {name: _Rule(rule, fragments) for name, rule in spec["events"].items()}
        self.message_id = compile_spec(spec["messageId"], fragments)
        self.timestamp = compile_spec(spec["timestamp"], fragments)
        self.anonymous_id = compile_spec(spec["anonymousId"], fragments)
        self.user_id = compile_spec(spec["userId"], fragments)
        self.page = _compile_object(spec["page"], fragments)
        self.user_agent = compile_spec(spec["userAgent"], fragments)
        self.consent_keys = (spec["consent"]["analytics"], spec["consent"]["marketing"])
        self.consent_source = spec["consent"]["source"]
        self.campaign_key = spec["campaign"]["storage"]
        self.click_id_names = tuple(spec["campaign"]["clickIds"])
        self.devices = [(r["type"], re.compile(r["pattern"], re.IGNORECASE)) for r in spec["device"]["rules"]]
        self.default_device = spec["device"]["default"]
        self.library = dict(spec["library"])
        self.channel = spec["channel"]
        # the simulated shop maps a session's events one after another: parse its storage once
        self._device_cache: dict[str, str] = {}
        self._last_raw: Any = None
        self._last_parsed: tuple[dict | None, dict] | None = None

    @property
    def event_names(self) -> list[str]:
        """The Shopify standard events the pixel subscribes to."""
        return list(self.rules)

    def device_type(self, user_agent: Any) -> str:
        """tablet / mobile / desktop with tracker.js's own regexes (mapping.json `device`)."""
        text = user_agent if isinstance(user_agent, str) else ""
        kind = self._device_cache.get(text)
        if kind is None:
            kind = next((k for k, pattern in self.devices if pattern.search(text)), self.default_device)
            if len(self._device_cache) >= _CACHE_SIZE:
                self._device_cache.clear()
            self._device_cache[text] = kind
        return kind

    def _stored_campaign(self, storage: Mapping[str, Any]) -> tuple[dict | None, dict]:
        """The session's campaign and click ids as tracker.js stored them (copies: callers may edit)."""
        raw = storage.get(self.campaign_key)
        if raw != self._last_raw or self._last_parsed is None:
            self._last_raw, self._last_parsed = raw, self._parse_campaign(raw)
        campaign, click_ids = self._last_parsed
        return (dict(campaign) if campaign is not None else None), dict(click_ids)

    def _parse_campaign(self, raw: Any) -> tuple[dict | None, dict]:
        stored: Any = None
        if isinstance(raw, str):
            try:
                stored = json.loads(raw)
            except ValueError:
                stored = None  # not the tracker's JSON: the session has no campaign, as in tracker.js
        if not isinstance(stored, dict):
            stored = {}
        campaign = stored.get("campaign")
        clicks = stored.get("clickIds")
        clicks = clicks if isinstance(clicks, dict) else {}
        click_ids = {n: v if isinstance(v := clicks.get(n), str) and v else None for n in self.click_id_names}
        return (campaign if isinstance(campaign, dict) else None), click_ids

    def map(self, event: Mapping[str, Any], state: PixelState) -> dict | None:
        """Our event for one Shopify pixel event, or None (not mapped, not a checkout page, or no
        analytics consent). Without marketing consent the click ids are all null."""
        rule = self.rules.get(event.get("name"))  # type: ignore[arg-type]
        if rule is None:
            return None
        privacy = state.get("customerPrivacy") or {}
        analytics = privacy.get(self.consent_keys[0]) is True
        marketing = privacy.get(self.consent_keys[1]) is True
        if not analytics:
            return None
        data = event.get("data")
        root: Root = {
            "event": event,
            "checkout": data.get("checkout") if isinstance(data, dict) else None,
            "init": state.get("init") or {},
            "cookies": state.get("cookies") or {},
            "sessionStorage": state.get("sessionStorage") or {},
        }
        if not rule.applies(root):
            return None
        campaign, click_ids = self._stored_campaign(root["sessionStorage"])
        if not marketing:
            click_ids = dict.fromkeys(self.click_id_names)
        user_agent = self.user_agent(root)
        context: dict[str, Any] = {
            "page": self.page(root),
            "userAgent": user_agent,
            "device": {"type": self.device_type(user_agent)},
        }
        if campaign is not None:
            context["campaign"] = campaign
        context["clickIds"] = click_ids
        context["consent"] = {"analytics": analytics, "marketing": marketing, "source": self.consent_source}
        context["channel"] = self.channel
        context["library"] = dict(self.library)
        out: dict[str, Any] = {"messageId": self.message_id(root), "type": rule.type}
        if rule.event is not None:
            out["event"] = rule.event
        if rule.name is not None:
            out["name"] = rule.name(root)
        out["anonymousId"] = self.anonymous_id(root)
        out["userId"] = self.user_id(root)
        out["timestamp"] = self.timestamp(root)
        out["properties"] = rule.properties(root)
        out["context"] = context
        return out


def load_mapping(path: Path = MAPPING_PATH) -> dict:
    """mapping.json as data (render_pixel inlines it into pixel.js)."""
    return json.loads(path.read_text())


@functools.cache
def default_mapping() -> PixelMapping:
    """The repository's mapping.json, compiled once per process."""
    return PixelMapping(load_mapping())


def map_shopify_event(event: Mapping[str, Any], state: PixelState) -> dict | None:
    """The journey event for one Shopify Web Pixel event (docs/events.md, "Shopify Web Pixel")."""
    return default_mapping().map(event, state)
