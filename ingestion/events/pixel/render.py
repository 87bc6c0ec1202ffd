"""The custom pixel a merchant pastes into Shopify: pixel.js with mapping.json and the settings inlined.

Why inline instead of loading a script: Shopify's custom pixel editor takes the code itself, and the
sandbox gives the pixel no settings object (that is for app pixels), so the collector URL, the write
key and the mapping travel in the pasted text. The write key is a public key (it rides in every
browser request, as with tracker.js); it identifies the sender, it is no secret.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from ingestion.events.pixel.mapping import load_mapping

PIXEL_JS = Path(__file__).with_name("pixel.js")
MAPPING_MARK = "/*__JOURNEY_MAPPING__*/ null"
SETTINGS_MARK = "/*__JOURNEY_SETTINGS__*/ null"


def _js_json(value: object) -> str:
    """JSON as a JavaScript literal that is also safe inside an HTML <script> (no `</`)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def render_pixel(collector_url: str, write_key: str) -> str:
    """The code of the custom pixel for the collector at `collector_url` (scheme and host, optionally a
    path prefix) posting with `write_key` (docs/events.md, "Shopify Web Pixel")."""
    parts = urlsplit(collector_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"collector URL must be http(s)://host[:port][/prefix], got {collector_url!r}")
    mapping = {k: v for k, v in load_mapping().items() if k != "$comment"}
    settings = {"collector": collector_url.rstrip("/"), "writeKey": write_key}
    source = PIXEL_JS.read_text()
    for mark in (MAPPING_MARK, SETTINGS_MARK):
        if source.count(mark) != 1:
            raise RuntimeError(f"{PIXEL_JS} must hold {mark!r} exactly once")
    return source.replace(MAPPING_MARK, _js_json(mapping)).replace(SETTINGS_MARK, _js_json(settings))
