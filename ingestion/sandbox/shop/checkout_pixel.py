"""The simulated shop's Shopify checkout as its Web Pixel reports it (docs/sandbox.md).

Checkout events (the checkout and thank-you pages, Checkout Started, Payment Info Entered, Checkout
Error, Order Completed) happen on Shopify's checkout, where tracker.js cannot run: a shop gets them from
its Web Pixel. So the landing writer (events.py) builds each as a Shopify pixel event (`data.checkout`
with the cart attribute the tracker wrote, line items, amounts, the order; an alert carries `data.alert`
and the pixel reads the checkout from `init.data.checkout`) and lands what the pixel's mapping
(ingestion/events/pixel) makes of it; the warehouse's checkout events are the pixel's output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from ingestion.events.pixel import default_mapping
from ingestion.events.pixel.mapping import PixelMapping
from ingestion.sandbox.shop import funnel as F

if TYPE_CHECKING:
    from ingestion.sandbox.shop.events import SessionContext

CHECKOUT_KINDS = frozenset({F.PAGE_CHECKOUT, F.PAGE_THANKS, F.CHECKOUT_STARTED, F.ORDER_COMPLETED,
                            F.PAYMENT_INFO, F.CHECKOUT_ERROR, F.PAYMENT_DECLINED})  # fmt: skip
# Shopify's alert_displayed `data.alert` of the planted incidents' failures (docs/sandbox.md)
ALERTS = {
    F.CHECKOUT_ERROR: {"target": "checkout", "type": "INPUT_UNAVAILABLE",
                       "value": "There was a problem with our checkout. Refresh this page or try again in a few minutes."},
    F.PAYMENT_DECLINED: {"target": "payment", "type": "INPUT_INVALID",
                         "value": "Your payment couldn't be processed. Try again or use a different payment method."},
}  # fmt: skip
# the simulated visitors are in regions without a consent requirement: Shopify allows everything
PIXEL_PRIVACY = {"analyticsProcessingAllowed": True, "marketingAllowed": True,
                 "preferencesProcessingAllowed": True, "saleOfDataAllowed": True}  # fmt: skip
ANONYMOUS_ID_ATTRIBUTE = "_journey_anonymous_id"  # the cart attribute tracker.js writes
EVENT_NAMES = {F.CHECKOUT_STARTED: "checkout_started", F.PAYMENT_INFO: "payment_info_submitted",
               F.ORDER_COMPLETED: "checkout_completed", F.CHECKOUT_ERROR: "alert_displayed",
               F.PAYMENT_DECLINED: "alert_displayed"}  # fmt: skip


def _money(amount: float) -> dict:
    return {"amount": amount, "currencyCode": "USD"}


def _line_item(product: dict) -> dict:
    """A Shopify pixel checkout line item for one product of world.py's order properties."""
    return {"quantity": product["quantity"], "title": product["name"],
            "variant": {"id": product["variant_id"], "sku": product["sku"], "price": _money(product["price"]),
                        "product": {"id": product["product_id"], "title": product["name"]}}}  # fmt: skip


def shopify_checkout(
    token: str,
    anonymous_id: str,
    order: dict | None,
    product: dict | None,
    customer_id: str | None,
    done: bool,
) -> dict:
    """The `data.checkout` of Shopify's pixel events for a simulated checkout: the checkout of `order`
    (world.py's order properties), else a browsing checkout of the one `product` added to the cart.
    `done` adds the `order` object of checkout_completed."""
    if order is None:
        assert product is not None
        total = subtotal = product["price"]
        shipping = discount = 0.0
        lines, coupon = [_line_item(product)], None
    else:
        total, subtotal, shipping, discount = (
            order["revenue"],
            order["subtotal"],
            order["shipping"],
            order["discount"],
        )
        lines, coupon = [_line_item(p) for p in order["products"]], order["coupon"]
    checkout = {
        "token": token, "currencyCode": "USD",
        "attributes": [{"key": ANONYMOUS_ID_ATTRIBUTE, "value": anonymous_id}],
        "lineItems": lines, "totalPrice": _money(total), "subtotalPrice": _money(subtotal), "totalTax": _money(0.0),
        "shippingLine": {"price": _money(shipping)}, "discountsAmount": _money(discount),
        "discountApplications": [{"type": "DISCOUNT_CODE", "title": coupon}] if coupon else [],
    }  # fmt: skip
    if done:
        assert order is not None
        checkout["order"] = {
            "id": order["order_id"],
            "customer": {"id": customer_id} if customer_id else None,
        }
    return checkout


def pixel_event(
    mapping: PixelMapping,
    name: str,
    event_id: str,
    timestamp: str,
    page: dict,
    user_agent: str,
    anonymous_id: str,
    customer_id: str | None,
    campaign_storage: str,
    checkout: dict | None,
    alert: dict | None = None,
) -> dict:
    """Our event for a Shopify pixel event of the simulated shop, through the pixel's mapping. An
    `alert` event carries only `data.alert`: Shopify's `init.data.checkout` is then the `checkout`."""
    data = {"alert": alert} if alert is not None else {"checkout": checkout} if checkout is not None else {}
    event = {
        "id": event_id, "name": name, "type": "standard", "timestamp": timestamp, "clientId": anonymous_id,
        "context": {"document": {"location": {"href": page["url"], "pathname": page["path"]},
                                 "referrer": page["referrer"] or "", "title": page["title"]},
                    "navigator": {"userAgent": user_agent}},
        "data": data,
    }  # fmt: skip
    init: dict = {"data": {"customer": {"id": customer_id} if customer_id else None}}
    if alert is not None and checkout is not None:
        init["data"]["checkout"] = checkout
    state = {"customerPrivacy": PIXEL_PRIVACY, "cookies": {"_journey_aid": anonymous_id}, "init": init,
             "sessionStorage": {"_journey_campaign": campaign_storage}}  # fmt: skip
    mapped = mapping.map(event, state)  # type: ignore[arg-type]
    if mapped is None:  # a mapping that drops what a checkout sends would silently empty the funnel
        raise ValueError(f"the pixel mapping dropped a simulated {name} event ({event_id})")
    return mapped


class CheckoutPixel:
    """The pixel's event for each checkout row of the landing writer, sessions walked in time order.

    `orders` are world.py's order properties per session (a failed order's cart has no `order_id`;
    sessions without one only start a checkout of the product they added); `current` (the writer's current page per session) gives the referrer
    of a checkout page and the page of a checkout event, and is updated by checkout pages."""

    def __init__(self, shop_url: str, ctx: SessionContext, catalog: Any, orders: dict[int, dict]) -> None:
        self.shop_url, self.ctx, self.catalog, self.orders = shop_url, ctx, catalog, orders
        self.mapping = default_mapping()
        self.product_id = [str(p) for p in catalog.product_id.tolist()]
        self.price = (catalog.price_cents / 100.0).tolist()
        self.first_variant = np.searchsorted(
            catalog.variant_product, np.arange(len(self.product_id))
        ).tolist()
        self.storage: dict[int, str] = {}  # the tracker's sessionStorage `_journey_campaign` per session

    def event(self, s: int, kind: int, product: int, user_id: int, event_id: str, timestamp: str,
              current: dict[int, dict]) -> dict:  # fmt: skip
        """Our event (without sentAt/receivedAt) for checkout row `kind` of session `s`."""
        ctx = self.ctx
        token = ctx.checkout_token[s]
        customer = str(user_id) if user_id >= 0 else None
        checkout_path = "/checkouts/cn/" + token
        if kind == F.PAGE_CHECKOUT or kind == F.PAGE_THANKS:
            prev = current.get(s)
            path = checkout_path + ("" if kind == F.PAGE_CHECKOUT else "/thank-you")
            page = {"url": self.shop_url + path, "path": path, "referrer": prev["url"] if prev else None,
                    "title": "Checkout" if kind == F.PAGE_CHECKOUT else "Thank you"}  # fmt: skip
            current[s] = page
            name, checkout = "page_viewed", None
        else:
            page = current.get(s) or {"url": self.shop_url + checkout_path, "path": checkout_path,
                                      "referrer": None, "title": "Checkout"}  # fmt: skip
            order = self.orders.get(s)
            line = None if order is not None else self.cart_line(product)
            done = kind == F.ORDER_COMPLETED
            name = EVENT_NAMES[kind]
            checkout = shopify_checkout(token, ctx.anonymous_id[s], order, line, customer, done)
        campaign = self.storage.get(s)
        if campaign is None:
            campaign = self.storage[s] = orjson.dumps(
                {"campaign": ctx.campaign[s], "clickIds": ctx.click_ids[s]}
            ).decode()
        return pixel_event(self.mapping, name, event_id, timestamp, page, ctx.user_agent[s],
                           ctx.anonymous_id[s], customer, campaign, checkout, ALERTS.get(kind))  # fmt: skip

    def cart_line(self, product: int) -> dict:
        """The one line of a browsing checkout: the product added, its first variant."""
        v = self.first_variant[product]
        return {"product_id": self.product_id[product], "variant_id": str(self.catalog.variant_id[v]),
                "sku": self.catalog.variant_sku[v], "name": self.catalog.title[product],
                "price": self.price[product], "quantity": 1}  # fmt: skip
