"""Tracked events in the collector's landing format (docs/sandbox.md), one JSONL file per day or several.

Why the writer builds every line from precomputed columns: the large world holds > 10 M events, so the
per-event Python work is a dict literal and `orjson.dumps`; everything else (timestamps, ids, pages,
user ids) is computed with numpy. Only sessions whose browser does not block the tracker emit events.

Checkout events (the checkout and thank-you pages, Checkout Started, Order Completed) happen on Shopify's
checkout, where tracker.js cannot run: a shop gets them from its Web Pixel. So the writer builds them as
Shopify pixel events (`data.checkout` with the cart attribute the tracker wrote, line items, amounts, the
order) and lands what the pixel's mapping (ingestion/events/pixel) makes of them; the warehouse's checkout
events are the pixel's output. They are a few percent of the events, so the mapping's dict work is cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from ingestion.events.pixel import default_mapping
from ingestion.events.pixel.mapping import PixelMapping
from ingestion.sandbox.shop import funnel as F
from ingestion.sandbox.shop.rand import hash64, uniform, uuid_strings

LIBRARY = {"name": "journey-tracker.js", "version": "1"}
SHOP_URL = "https://shop.example"
USER_AGENTS = {
    "desktop": [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ],
    "mobile": [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/490.0]",
    ],
    "tablet": [
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    ],
}
# the simulated visitors are in regions without a consent requirement: Shopify allows everything
PIXEL_PRIVACY = {"analyticsProcessingAllowed": True, "marketingAllowed": True,
                 "preferencesProcessingAllowed": True, "saleOfDataAllowed": True}  # fmt: skip
ANONYMOUS_ID_ATTRIBUTE = "_journey_anonymous_id"  # the cart attribute tracker.js writes
OTHER_PAGES = [("/collections/all", "All products"), ("/pages/our-story", "Our story"),
               ("/collections/new", "New arrivals"), ("/pages/faq", "FAQ"), ("/collections/bestsellers", "Bestsellers")]  # fmt: skip


@dataclass
class SessionContext:
    """Per-session strings the events repeat (lists indexed like the final sessions)."""

    anonymous_id: list[str]
    landing_path: list[str]
    landing_title: list[str]
    query: list[str | None]
    referrer: list[str | None]
    campaign: list[dict | None]
    click_ids: list[dict]
    device: list[str]
    user_agent: list[str]
    checkout_token: list[str]


@dataclass
class EventColumns:
    """Per-event values for the rows to write (already filtered to non-blocked, < end_date)."""

    session: np.ndarray
    pos: np.ndarray
    kind: np.ndarray
    product: np.ndarray
    ts_ms: np.ndarray  # absolute epoch ms
    user_id: np.ndarray  # customer id or -1
    quantity: np.ndarray


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
) -> dict:
    """Our event for a Shopify pixel event of the simulated shop, through the pixel's mapping."""
    event = {
        "id": event_id, "name": name, "type": "standard", "timestamp": timestamp, "clientId": anonymous_id,
        "context": {"document": {"location": {"href": page["url"], "pathname": page["path"]},
                                 "referrer": page["referrer"] or "", "title": page["title"]},
                    "navigator": {"userAgent": user_agent}},
        "data": {"checkout": checkout} if checkout is not None else {},
    }  # fmt: skip
    state = {"customerPrivacy": PIXEL_PRIVACY, "cookies": {"_journey_aid": anonymous_id},
             "init": {"data": {"customer": {"id": customer_id} if customer_id else None}},
             "sessionStorage": {"_journey_campaign": campaign_storage}}  # fmt: skip
    mapped = mapping.map(event, state)  # type: ignore[arg-type]
    if mapped is None:  # a mapping that drops what a checkout sends would silently empty the funnel
        raise ValueError(f"the pixel mapping dropped a simulated {name} event ({event_id})")
    return mapped


def iso_ms(epoch_ms: np.ndarray) -> np.ndarray:
    """'YYYY-MM-DDTHH:MM:SS.mmmZ' strings."""
    return np.char.add(np.datetime_as_string(epoch_ms.astype("datetime64[ms]"), unit="ms"), "Z")


def write_landing(
    out_dir: Path,
    seed: int,
    ev: EventColumns,
    ctx: SessionContext,
    session_key: np.ndarray,
    catalog,
    orders: dict[int, dict],
    events_per_file: int,
) -> tuple[int, list[Path]]:
    """Write `dt=YYYY-MM-DD/sim-NNNN.jsonl` files; returns (events written, files)."""
    n = len(ev.session)
    order = np.lexsort((ev.pos, session_key[ev.session], ev.ts_ms))
    sess, pos, kind, prod, ts, uid, qty = (ev.session[order], ev.pos[order], ev.kind[order], ev.product[order],
                                           ev.ts_ms[order], ev.user_id[order], ev.quantity[order])  # fmt: skip
    ek = session_key[sess]
    sent = ts + 50 + (uniform(ek, pos, 801) * 2500).astype(np.int64)
    recv = sent + 30 + (uniform(ek, pos, 802) * 400).astype(np.int64)
    ts_s, sent_s, recv_s = iso_ms(ts).tolist(), iso_ms(sent).tolist(), iso_ms(recv).tolist()
    mids = uuid_strings(hash64(seed, ek, pos, 803), hash64(seed, ek, pos, 804))
    day = (ts // 86_400_000).astype(np.int64)
    page_pick = np.floor(uniform(ek, pos, 805) * len(OTHER_PAGES)).astype(np.int64).tolist()
    cat_title, cat_handle, cat_cat = catalog.title, catalog.handle, catalog.category
    cat_price = (catalog.price_cents / 100.0).tolist()
    cat_pid = [str(p) for p in catalog.product_id.tolist()]

    files: list[Path] = []
    written = 0
    day_l = day.tolist()
    sess_l, kind_l, prod_l, uid_l, qty_l = (
        sess.tolist(),
        kind.tolist(),
        prod.tolist(),
        uid.tolist(),
        qty.tolist(),
    )
    # current page per session as we walk events in time order (a session's events are in order)
    current: dict[int, dict] = {}
    mapping = default_mapping()
    first_variant = np.searchsorted(catalog.variant_product, np.arange(len(cat_pid))).tolist()
    storage: dict[int, str] = {}  # the tracker's sessionStorage `_journey_campaign` per session
    i = 0
    while i < n:
        d = day_l[i]
        j = int(np.searchsorted(day, d, side="right"))
        date = np.datetime64(int(d), "D").astype(str)
        folder = out_dir / f"dt={date}"
        folder.mkdir(parents=True, exist_ok=True)
        for part, lo in enumerate(range(i, j, events_per_file)):
            hi = min(lo + events_per_file, j)
            lines = []
            for e in range(lo, hi):
                s, k, p = sess_l[e], kind_l[e], prod_l[e]
                if k in (F.PAGE_CHECKOUT, F.PAGE_THANKS, F.CHECKOUT_STARTED, F.ORDER_COMPLETED):
                    # Shopify's checkout: the Web Pixel's events
                    token, u = ctx.checkout_token[s], uid_l[e]
                    customer = str(u) if u >= 0 else None
                    if k == F.PAGE_CHECKOUT or k == F.PAGE_THANKS:
                        prev = current.get(s)
                        path = "/checkouts/cn/" + token + ("" if k == F.PAGE_CHECKOUT else "/thank-you")
                        page = {"url": SHOP_URL + path, "path": path, "referrer": prev["url"] if prev else None,
                                "title": "Checkout" if k == F.PAGE_CHECKOUT else "Thank you"}  # fmt: skip
                        current[s] = page
                        name, checkout = "page_viewed", None
                    else:
                        page = current.get(s) or {"url": SHOP_URL + "/checkouts/cn/" + token, "referrer": None,
                                                  "path": "/checkouts/cn/" + token, "title": "Checkout"}  # fmt: skip
                        o = orders.get(s)
                        line = None
                        if o is None:
                            v = first_variant[p]
                            line = {"product_id": cat_pid[p], "variant_id": str(catalog.variant_id[v]),
                                    "sku": catalog.variant_sku[v], "name": cat_title[p], "price": cat_price[p],
                                    "quantity": 1}  # fmt: skip
                        done = k == F.ORDER_COMPLETED
                        name = "checkout_completed" if done else "checkout_started"
                        checkout = shopify_checkout(token, ctx.anonymous_id[s], o, line, customer, done)
                    camp_json = storage.get(s)
                    if camp_json is None:
                        camp_json = storage[s] = orjson.dumps(
                            {"campaign": ctx.campaign[s], "clickIds": ctx.click_ids[s]}
                        ).decode()
                    ev_obj = pixel_event(mapping, name, "sh-" + mids[e], ts_s[e], page, ctx.user_agent[s],
                                         ctx.anonymous_id[s], customer, camp_json, checkout)  # fmt: skip
                    ev_obj["sentAt"] = sent_s[e]
                    ev_obj["receivedAt"] = recv_s[e]
                    lines.append(orjson.dumps(ev_obj))
                    continue
                if k <= F.PAGE_PRODUCT:
                    prev = current.get(s)
                    if k == F.PAGE_LANDING:
                        path, title = ctx.landing_path[s], ctx.landing_title[s]
                        q = ctx.query[s]
                        url = SHOP_URL + path + ("?" + q if q else "")
                        ref = ctx.referrer[s]
                    else:
                        if k == F.PAGE_OTHER:
                            path, title = OTHER_PAGES[page_pick[e]]
                        else:
                            path, title = "/products/" + cat_handle[p], cat_title[p]
                        url = SHOP_URL + path
                        ref = prev["url"] if prev else None
                    page = {"url": url, "path": path, "referrer": ref, "title": title}
                    current[s] = page
                    props = {"path": path, "url": url, "title": title, "referrer": ref}
                    typ, name = "page", None
                else:
                    page = current.get(s)
                    if k == F.IDENTIFY or k == F.IDENTIFY_LOGIN:
                        typ, name, props = "identify", None, None
                    else:
                        typ, name = "track", F.TRACK_NAMES[k]
                        if k == F.PRODUCT_VIEWED or k == F.PRODUCT_ADDED:
                            props = {"product_id": cat_pid[p], "name": cat_title[p], "category": cat_cat[p],
                                     "price": cat_price[p], "currency": "USD"}  # fmt: skip
                            if k == F.PRODUCT_ADDED:
                                props["quantity"] = qty_l[e]
                        else:
                            raise AssertionError(f"event kind {k} has no tracker shape")
                u = uid_l[e]
                ev_obj = {"messageId": mids[e], "type": typ}
                if name is not None:
                    ev_obj["event"] = name
                elif typ == "page":
                    ev_obj["name"] = page["title"]
                ev_obj["anonymousId"] = ctx.anonymous_id[s]
                ev_obj["userId"] = str(u) if u >= 0 else None
                ev_obj["timestamp"] = ts_s[e]
                ev_obj["sentAt"] = sent_s[e]
                ev_obj["receivedAt"] = recv_s[e]
                if props is not None:
                    ev_obj["properties"] = props
                context = {"page": page}
                camp = ctx.campaign[s]
                if camp is not None:
                    context["campaign"] = camp
                context["clickIds"] = ctx.click_ids[s]
                context["device"] = {"type": ctx.device[s]}
                context["userAgent"] = ctx.user_agent[s]
                context["library"] = LIBRARY
                ev_obj["context"] = context
                lines.append(orjson.dumps(ev_obj))
            target = folder / f"sim-{part:04d}.jsonl"
            tmp = target.with_name(target.name + ".open")
            with open(tmp, "wb") as fh:
                fh.write(b"\n".join(lines))
                fh.write(b"\n")
            os.replace(tmp, target)
            files.append(target)
            written += hi - lo
        i = j
    return written, files
