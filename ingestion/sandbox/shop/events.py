"""Tracked events in the collector's landing format (docs/sandbox.md), one JSONL file per day or several.

Why the writer builds every line from precomputed columns: the large world holds > 10 M events, so the
per-event Python work is a dict literal and `orjson.dumps`; everything else (timestamps, ids, pages,
user ids) is computed with numpy. Only sessions whose browser does not block the tracker emit events.

Checkout events are the Shopify Web Pixel's (checkout_pixel.py), built through the pixel's mapping.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from ingestion.sandbox.shop import funnel as F
from ingestion.sandbox.shop.checkout_pixel import CHECKOUT_KINDS, CheckoutPixel
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
    pixel = CheckoutPixel(SHOP_URL, ctx, catalog, orders)
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
                if k in CHECKOUT_KINDS:  # Shopify's checkout: the Web Pixel's events
                    ev_obj = pixel.event(s, k, p, uid_l[e], "sh-" + mids[e], ts_s[e], current)
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
