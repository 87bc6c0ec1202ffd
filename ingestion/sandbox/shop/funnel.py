"""The steps inside each session: pages, Product Viewed, Product Added, Checkout Started, identify,
Order Completed, with realistic gaps. The checkout's last steps (payment submitted, planted checkout
errors) are added to the skeleton afterwards by checkout_flow.py, so they change no other draw.

Why a skeleton of event rows: the session's duration (needed to keep sessions > 30 min apart) and the
order's timestamp both come from the same steps the tracker emits, so events, sessions and orders agree.
Browsing sessions drop out of the funnel with probabilities that depend on channel and device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.sandbox.shop.catalog import Catalog, pick_products
from ingestion.sandbox.shop.orders import Basket
from ingestion.sandbox.shop.rand import choice, normal, uniform
from ingestion.sandbox.shop.traffic import CONVERT, POST, Sessions

(PAGE_LANDING, PAGE_OTHER, PAGE_PRODUCT, PRODUCT_VIEWED, PRODUCT_ADDED, PAGE_CHECKOUT, CHECKOUT_STARTED,
 IDENTIFY, PAGE_THANKS, ORDER_COMPLETED, IDENTIFY_LOGIN) = range(11)  # fmt: skip
# rows checkout_flow.py adds after the skeleton (Shopify pixel events: payment submitted, two alerts)
PAYMENT_INFO, CHECKOUT_ERROR, PAYMENT_DECLINED = 11, 12, 13
TRACK_NAMES = {PRODUCT_VIEWED: "Product Viewed", PRODUCT_ADDED: "Product Added",
               CHECKOUT_STARTED: "Checkout Started", ORDER_COMPLETED: "Order Completed"}  # fmt: skip
# median gap before the event (ms) and its log-normal spread
GAP_MEDIAN = np.array([0, 25_000, 30_000, 700, 40_000, 45_000, 900, 60_000, 90_000, 500, 15_000], float)
GAP_SIGMA = np.array([0, 0.8, 0.8, 0.4, 0.7, 0.6, 0.4, 0.6, 0.5, 0.4, 0.6])
MAX_GAP_MS = 20 * 60 * 1000
# by channel: view, add | view
P_VIEW = np.array([0.55, 0.72, 0.62, 0.45, 0.75, 0.6, 0.66, 0.35, 0.65])
P_ADD = np.array([0.14, 0.26, 0.2, 0.12, 0.3, 0.18, 0.25, 0.08, 0.2])
# by device (desktop, mobile, tablet)
DEV_VIEW = np.array([1.1, 0.92, 1.0])
DEV_ADD = np.array([1.3, 0.75, 1.0])
DEV_CHECKOUT = np.array([0.55, 0.35, 0.45])


@dataclass
class Skeleton:
    """Event rows sorted by (session, position); offsets are ms after the session start."""

    session: np.ndarray
    pos: np.ndarray
    kind: np.ndarray
    product: np.ndarray  # -1 when none
    offset_ms: np.ndarray
    duration_ms: np.ndarray  # per session
    identify_ms: np.ndarray  # per session: offset of the identify event, -1 none
    complete_ms: np.ndarray  # per session: offset of Order Completed, -1 none
    first_event: np.ndarray  # per session: index of its first row


def build_skeleton(s: Sessions, cat: Catalog, group: np.ndarray, basket: Basket, order_of: np.ndarray,
                   login_rate: float = 0.2) -> Skeleton:  # fmt: skip
    """`order_of[i]` is the basket order of converting session i (-1 for browsing sessions)."""
    key = s.key
    n = len(s)
    conv = s.kind == CONVERT
    ch, dev = s.channel, s.device_type
    n_lines = np.where(conv, basket.count[np.maximum(order_of, 0)], 0)
    n_extra = choice(np.array([0.3, 0.28, 0.22, 0.2]), uniform(key, 701))
    geo = np.minimum(np.floor(np.log1p(-uniform(key, 702)) / np.log(0.5)), 5).astype(np.int64)
    viewed = uniform(key, 703) < P_VIEW[ch] * DEV_VIEW[dev]
    added = viewed & (uniform(key, 704) < P_ADD[ch] * DEV_ADD[dev])
    checkout = added & (uniform(key, 705) < DEV_CHECKOUT[dev])
    n_views = np.where(
        conv, n_lines + (uniform(key, 706) < 0.4) + (uniform(key, 707) < 0.15), viewed * (1 + geo)
    )
    n_adds = np.where(conv, n_lines, added.astype(np.int64))
    n_checkout = (conv | checkout).astype(np.int64)
    login = ~conv & (s.kind == POST) & (uniform(key, 708) < login_rate)

    blocks = []  # (rank, counts per session, event kinds per unit)
    blocks.append((0, np.ones(n, np.int64), [PAGE_LANDING]))
    blocks.append((1, login.astype(np.int64), [IDENTIFY_LOGIN]))
    blocks.append((2, n_extra, [PAGE_OTHER]))
    blocks.append((3, n_views, [PAGE_PRODUCT, PRODUCT_VIEWED]))
    blocks.append((4, n_adds, [PRODUCT_ADDED]))
    blocks.append((5, n_checkout, [PAGE_CHECKOUT, CHECKOUT_STARTED]))
    blocks.append((6, conv.astype(np.int64), [IDENTIFY]))
    blocks.append((7, conv.astype(np.int64), [PAGE_THANKS, ORDER_COMPLETED]))
    sess_l, rank_l, unit_l, sub_l, kind_l = [], [], [], [], []
    for rank, counts, kinds in blocks:
        sid = np.repeat(np.arange(n), counts)
        unit = np.arange(len(sid)) - np.repeat(np.cumsum(counts) - counts, counts)
        for sub, k in enumerate(kinds):
            sess_l.append(sid)
            rank_l.append(np.full(len(sid), rank))
            unit_l.append(unit)
            sub_l.append(np.full(len(sid), sub))
            kind_l.append(np.full(len(sid), k))
    sess = np.concatenate(sess_l)
    rank = np.concatenate(rank_l)
    unit = np.concatenate(unit_l)
    sub = np.concatenate(sub_l)
    kind = np.concatenate(kind_l)
    o = np.lexsort((sub, unit, rank, sess))
    sess, unit, kind = sess[o], unit[o], kind[o]
    counts = np.bincount(sess, minlength=n)
    first = np.cumsum(counts) - counts
    pos = np.arange(len(sess)) - first[sess]

    # products: converting sessions view/add their order's lines first; others browse their group
    ek = key[sess]
    is_prod = np.isin(kind, [PAGE_PRODUCT, PRODUCT_VIEWED, PRODUCT_ADDED])
    product = np.full(len(sess), -1, dtype=np.int64)
    browse_pick = pick_products(
        cat, group[sess], s.start_ms[sess], uniform(ek, unit, 709), uniform(ek, unit, 710)
    )
    first_view = pick_products(cat, group[sess], s.start_ms[sess], uniform(ek, 0, 709), uniform(ek, 0, 710))
    ob = order_of[sess]
    from_order = conv[sess] & (unit < n_lines[sess])
    line = basket.start[np.maximum(ob, 0)] + unit
    product = np.where(is_prod, np.where(from_order, basket.product[np.minimum(line, len(basket.product) - 1)],
                                         browse_pick), product)  # fmt: skip
    product = np.where(is_prod & ~conv[sess] & (kind == PRODUCT_ADDED), first_view, product)

    gap = GAP_MEDIAN[kind] * np.exp(GAP_SIGMA[kind] * normal(ek, pos, 711))
    gap = np.minimum(np.round(gap), MAX_GAP_MS).astype(np.int64)
    gap[first] = 0
    cum = np.cumsum(gap)
    offset = cum - cum[first][sess]
    last = first + counts - 1
    duration = offset[last]
    identify_ms = np.full(n, -1, dtype=np.int64)
    idm = np.isin(kind, [IDENTIFY, IDENTIFY_LOGIN])
    identify_ms[sess[idm]] = offset[idm]
    complete_ms = np.full(n, -1, dtype=np.int64)
    cm = kind == ORDER_COMPLETED
    complete_ms[sess[cm]] = offset[cm]
    return Skeleton(session=sess, pos=pos, kind=kind, product=product, offset_ms=offset, duration_ms=duration,
                    identify_ms=identify_ms, complete_ms=complete_ms, first_event=first)  # fmt: skip
