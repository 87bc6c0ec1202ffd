"""A storefront stand-in serving tracker.js and the demo pages, with Shopify's cart endpoints.

Used by the Chromium test and for trying the tracker by hand; `/cart/*.js` answer like Shopify's AJAX
cart API so the tracker's cart-attribute write can be checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent


def create_demo_app(collector_url: str, write_key: str = "") -> Starlette:
    """Demo shop app; its cart state is in `app.state.cart` (attributes, items)."""
    cart: dict[str, Any] = {"attributes": {}, "items": []}

    def page(name: str):
        async def handler(request: Request) -> Response:
            html = (HERE / "demo" / name).read_text()
            html = html.replace("{{COLLECTOR_URL}}", collector_url).replace("{{WRITE_KEY}}", write_key)
            return HTMLResponse(html)

        return handler

    async def tracker(request: Request) -> Response:
        return Response((HERE / "tracker.js").read_bytes(), media_type="application/javascript")

    async def cart_update(request: Request) -> Response:
        form = parse_qsl((await request.body()).decode())  # url-encoded, like Shopify's AJAX cart
        for key, value in form:
            if key.startswith("attributes[") and key.endswith("]"):
                cart["attributes"][key[len("attributes[") : -1]] = value
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
            Route("/tracker.js", tracker),
            Route("/cart/update.js", cart_update, methods=["POST"]),
            Route("/cart/add.js", cart_add, methods=["POST"]),
            Route("/cart.js", cart_get),
        ]
    )
    app.state.cart = cart
    return app
