"""A storefront stand-in serving tracker.js and the demo pages, with Shopify's cart endpoints.

Used by the Chromium tests and by `journey tracker demo` for trying the tracker by hand. The pages load
tracker.js through the async snippet (snippet.js); `/cart/*.js` answer like Shopify's AJAX cart API so
the tracker's cart-attribute write can be checked. Query parameters of a page change the install:
`?cookie_domain=.shop.example` (the tracker's cookieDomain), `?region=DE` (the region the tracker's consent default is chosen for), `?tracker_delay=1.5` (tracker.js
answered that many seconds late, so calls made before it loads can be seen queued),
`?shopify=analytics,marketing` (a fake `window.Shopify` whose Customer Privacy API allows what is listed).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent
DEMO = HERE / "demo"
MAX_DELAY_S = 10.0
# the demo's regional defaults when a page is opened with ?region=: EU/EEA and UK opt-in
CONSENT_BY_REGION = {"EU": "opt-in", "GB": "opt-in", "US-CA": "opt-out"}


def _delay(value: str | None, default: float) -> float:
    try:
        seconds = float(value) if value else default
    except ValueError:
        seconds = default
    return max(0.0, min(MAX_DELAY_S, seconds))


def _script_json(value: object) -> str:
    """JSON that is safe inside a <script> element (no `</script>` can close it early)."""
    return json.dumps(value).replace("</", "<\\/")


def create_demo_app(
    collector_url: str, write_key: str = "", *, consent: str = "opt-out", tracker_delay: float = 0.0
) -> Starlette:
    """Demo shop app; its cart state is in `app.state.cart` (attributes, items).

    `consent` is the tracker's default (opt-in / opt-out) for pages opened without `?region=`;
    `tracker_delay` (seconds) delays every /tracker.js answer, as `?tracker_delay=` does for one page."""
    if consent not in ("opt-in", "opt-out"):
        raise ValueError(f"consent must be opt-in or opt-out, not {consent!r}")
    cart: dict[str, Any] = {"attributes": {}, "items": []}
    snippet = (HERE / "snippet.js").read_text()

    def page(name: str):
        async def handler(request: Request) -> Response:
            query = request.query_params
            options: dict[str, Any] = {"collector": collector_url, "writeKey": write_key, "consent": consent}
            if query.get("cookie_domain"):
                options["cookieDomain"] = query["cookie_domain"]
            if query.get("region"):
                options.update(region=query["region"], consentByRegion={**CONSENT_BY_REGION, "*": consent})
            src = "/tracker.js"
            if query.get("tracker_delay"):
                src += f"?delay={_delay(query['tracker_delay'], 0.0):g}"
            head = '<script src="/fake-shopify.js"></script>' if "shopify" in query else ""
            html = (DEMO / name).read_text()
            replacements = {
                "{{SNIPPET}}": snippet.replace('"/tracker.js"', _script_json(src)),
                "{{INIT}}": _script_json(options),
                "{{HEAD_EXTRA}}": head,
                "{{COLLECTOR_URL}}": quote(collector_url, safe=":/"),
                "{{WRITE_KEY}}": quote(write_key, safe=""),
                "{{CONSENT}}": consent,
            }
            for key, value in replacements.items():
                html = html.replace(key, value)
            return HTMLResponse(html)

        return handler

    def static(path: Path):
        async def handler(request: Request) -> Response:
            return Response(path.read_bytes(), media_type="application/javascript")

        return handler

    async def tracker(request: Request) -> Response:
        seconds = _delay(request.query_params.get("delay"), tracker_delay)
        if seconds:
            await asyncio.sleep(seconds)
        return Response(
            (HERE / "tracker.js").read_bytes(),
            media_type="application/javascript",
            headers={"Cache-Control": "no-store"},
        )

    async def cart_update(request: Request) -> Response:
        form = parse_qsl((await request.body()).decode(), keep_blank_values=True)  # like Shopify's AJAX cart
        for key, value in form:
            if key.startswith("attributes[") and key.endswith("]"):
                name = key[len("attributes[") : -1]
                if value:
                    cart["attributes"][name] = value
                else:  # Shopify removes an attribute set to an empty value
                    cart["attributes"].pop(name, None)
        return JSONResponse(cart)

    async def cart_add(request: Request) -> Response:
        body = await request.json()
        cart["items"].extend(body.get("items", []))
        return JSONResponse(cart)

    async def cart_get(request: Request) -> Response:
        return JSONResponse(cart)

    app = Starlette(
        routes=[
            Route("/", page("index.html")),
            Route("/products/{handle}", page("product.html")),
            Route("/plain", page("plain.html")),
            Route("/tracker.js", tracker),
            Route("/demo.js", static(DEMO / "demo.js")),
            Route("/fake-shopify.js", static(DEMO / "fake_shopify.js")),
            Route("/cart/update.js", cart_update, methods=["POST"]),
            Route("/cart/add.js", cart_add, methods=["POST"]),
            Route("/cart.js", cart_get),
        ]
    )
    app.state.cart = cart
    return app
