"""The Shopify Web Pixel: Shopify's standard checkout events mapped to journey events.

`mapping.json` is the one mapping; `pixel.js` applies it in Shopify's sandbox (the code a merchant
pastes, from `render_pixel`), `mapping.py` applies it in Python (the simulated shop, the tests).
"""

from ingestion.events.pixel.mapping import PixelMapping, PixelState, default_mapping, map_shopify_event
from ingestion.events.pixel.render import render_pixel

__all__ = ["PixelMapping", "PixelState", "default_mapping", "map_shopify_event", "render_pixel"]
