"""The checkout's last steps, added to the skeleton of the kept sessions: payment submitted (Shopify's
`payment_info_submitted`), and the failures planted incidents cause (an `alert_displayed` after which
the session stops: docs/sandbox.md, "Planted incidents").

Why after the skeleton and the overlap resolution, with salts of their own: a row inserted into the
skeleton would shift the positions (hash keys) and gaps of the rows after it, hence the orders'
timestamps and which sessions are kept. Here no session gets longer, so orders, customers and sessions
stay what they were and only the event files gain rows:
- a converting session pays between its contact step (identify) and the thank-you page;
- an abandoned checkout that pays (ABANDONED_PAYMENT_SHARE) stops at its payment: its checkout page and
  Checkout Started move earlier, inside the gap after its last Product Added, so the payment (and an
  alert after it) ends the session exactly when Checkout Started used to;
- a failed order (its converting session hit by an incident) keeps its events up to the failure and
  ends at the alert; world.py then drops the order everywhere (it becomes an abandoned checkout).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.sandbox.shop import funnel as F
from ingestion.sandbox.shop.config import DAY_MS
from ingestion.sandbox.shop.customers import DEVICES
from ingestion.sandbox.shop.incidents import CHECKOUT_BUG, PAYMENT_OUTAGE, Incident
from ingestion.sandbox.shop.orders import FREE_SHIPPING_CENTS, SHIPPING_CENTS, Basket
from ingestion.sandbox.shop.rand import uniform

ABANDONED_PAYMENT_SHARE = 0.3  # abandoned checkouts that submit payment and stop there
PAYMENT_POS, ERROR_POS = 1000, 1001  # positions of the added rows (beyond any skeleton row's)
STREAM_PAYS, STREAM_PAY_AT, STREAM_BUG_AT, STREAM_DECLINE_AT, STREAM_RETIME = 1201, 1202, 1203, 1204, 1205
STREAM_HIT = {CHECKOUT_BUG: 1210, PAYMENT_OUTAGE: 1211}


@dataclass
class CheckoutPlan:
    """What the checkout's last steps change in the skeleton of the kept sessions."""

    keep: np.ndarray  # per skeleton row: still emitted (a failed order has no identify/thank-you/completed)
    offset_ms: np.ndarray  # per skeleton row: offset (abandoned checkouts that pay start checkout earlier)
    duration_ms: np.ndarray  # per session: a failed order's session ends at its alert
    lost: np.ndarray  # per session: converting, but an incident prevented its order
    hits: list[np.ndarray]  # per incident: the sessions that failed because of it
    session: np.ndarray  # added rows: session, position, kind, product (the last added), offset
    pos: np.ndarray
    kind: np.ndarray
    product: np.ndarray
    added_offset_ms: np.ndarray


def _exposed(s, incidents: list[Incident], checkout: np.ndarray, pays: np.ndarray) -> tuple[list, np.ndarray]:
    """Per incident the sessions it fails; a checkout bug strikes before payment, so a session it hits
    never reaches a payment outage."""
    day = s.start_ms // DAY_MS
    hits: list[np.ndarray] = [np.zeros(len(s), bool) for _ in incidents]
    bug = np.zeros(len(s), bool)
    for kinds in ((CHECKOUT_BUG,), (PAYMENT_OUTAGE,)):
        for j, inc in enumerate(incidents):
            if inc.kind not in kinds:
                continue
            lo, hi = inc.days
            exposed = (day >= lo) & (day <= hi) & (uniform(s.key, STREAM_HIT[inc.kind]) < inc.share)
            if inc.kind == CHECKOUT_BUG:
                hits[j] = checkout & exposed & (s.device_type == DEVICES.index(inc.device))
                bug |= hits[j]
            else:
                hits[j] = pays & ~bug & exposed
    return hits, bug


def plan_checkout(
    s,
    sess: np.ndarray,
    kind: np.ndarray,
    product: np.ndarray,
    offset: np.ndarray,
    duration: np.ndarray,
    converting: np.ndarray,
    incidents: list[Incident],
) -> CheckoutPlan:
    """`sess`/`kind`/`product`/`offset`: the skeleton rows of the kept sessions `s`, sorted by (session,
    position); `converting`: the sessions with an order before any incident."""
    n = len(s)
    key = s.key
    cs = np.full(n, -1, dtype=np.int64)
    started = kind == F.CHECKOUT_STARTED
    cs[sess[started]] = np.flatnonzero(started)
    checkout = cs >= 0
    abandon = checkout & ~converting
    pays = converting | (abandon & (uniform(key, STREAM_PAYS) < ABANDONED_PAYMENT_SHARE))
    hits, bug = _exposed(s, incidents, checkout, pays)
    declined = np.zeros(n, bool)
    for inc, hit in zip(incidents, hits, strict=True):
        if inc.kind == PAYMENT_OUTAGE:
            declined |= hit
    lost = converting & (bug | declined)
    decline_gap = 1500 + (6000 * uniform(key, STREAM_DECLINE_AT)).astype(np.int64)  # the processor's answer

    off = offset.copy()
    dur = duration.copy()
    rows: list[tuple[np.ndarray, int, int, np.ndarray]] = []  # (sessions, pos, kind, offsets)

    # converting sessions: checkout page, Checkout Started, identify (contact), thank-you page, completed
    c = np.flatnonzero(converting)
    r = cs[c]
    assert (kind[r + 1] == F.IDENTIFY).all() and (kind[r + 2] == F.PAGE_THANKS).all()
    t_cs, t_id, t_th = offset[r], offset[r + 1], offset[r + 2]
    span = t_th - t_id
    pay = t_id + np.clip(np.round((0.35 + 0.55 * uniform(key[c], STREAM_PAY_AT)) * span), 1, span - 1)
    pay = pay.astype(np.int64)
    paid = ~bug[c]
    rows.append((c[paid], PAYMENT_POS, F.PAYMENT_INFO, pay[paid]))
    at = t_cs + np.clip(np.round((0.2 + 0.6 * uniform(key[c], STREAM_BUG_AT)) * (t_id - t_cs)), 1, None)
    b = bug[c]
    rows.append((c[b], ERROR_POS, F.CHECKOUT_ERROR, at.astype(np.int64)[b]))
    d = declined[c]
    err = np.maximum(np.minimum(pay + decline_gap[c], t_th - 1), pay)
    rows.append((c[d], ERROR_POS, F.PAYMENT_DECLINED, err[d]))
    dur[c[b]] = at.astype(np.int64)[b]
    dur[c[d]] = err[d]

    # abandoned checkouts that pay or fail: fit the new rows in before the session's old end
    a = np.flatnonzero(abandon & (pays | bug))
    r = cs[a]
    assert (kind[r - 1] == F.PAGE_CHECKOUT).all() and (kind[r - 2] == F.PRODUCT_ADDED).all()
    t_prev, t_pc, t_end = offset[r - 2], offset[r - 1], offset[r]
    assert (t_end == duration[a]).all(), "Checkout Started ends an abandoned checkout"
    moved_pc = t_prev + np.round((0.15 + 0.25 * uniform(key[a], STREAM_RETIME)) * (t_pc - t_prev))
    shift = t_pc - moved_pc.astype(np.int64)
    off[r - 1] -= shift
    off[r] -= shift
    ab, ad = bug[a], declined[a]
    ap = ~ab
    pay_a = np.where(ad, t_end - np.minimum(decline_gap[a], shift), t_end)
    rows.append((a[ap], PAYMENT_POS, F.PAYMENT_INFO, pay_a[ap]))
    rows.append((a[ab], ERROR_POS, F.CHECKOUT_ERROR, t_end[ab]))
    rows.append((a[ad], ERROR_POS, F.PAYMENT_DECLINED, t_end[ad]))

    keep = ~(lost[sess] & np.isin(kind, [F.IDENTIFY, F.PAGE_THANKS, F.ORDER_COMPLETED]))
    t_sess = np.concatenate([x[0] for x in rows]).astype(np.int64)
    return CheckoutPlan(
        keep=keep, offset_ms=off, duration_ms=dur, lost=lost, hits=hits, session=t_sess,
        pos=np.concatenate([np.full(len(x[0]), x[1], np.int64) for x in rows]),
        kind=np.concatenate([np.full(len(x[0]), x[2], np.int64) for x in rows]),
        product=product[np.maximum(cs[t_sess], 2) - 2],
        added_offset_ms=np.concatenate([x[3] for x in rows]).astype(np.int64),
    )  # fmt: skip


def incident_truth(
    incidents: list[Incident],
    plan: CheckoutPlan,
    converting: np.ndarray,
    start_ms: np.ndarray,
    complete_ms: np.ndarray,
    end_ms: int,
) -> list[dict]:
    """incidents.json: per incident the sessions it failed and the orders it prevented before end_date
    (blocked-tracker sessions included: the checkout fails whether or not the tracker sees it)."""
    seen = start_ms < end_ms
    would_order = converting & (start_ms + complete_ms < end_ms)
    return [
        inc.truth(int((hit & seen).sum()), int((hit & would_order).sum()))
        for inc, hit in zip(incidents, plan.hits, strict=True)
    ]


def cart_properties(cart: Basket, o: int, cat) -> dict:
    """The checkout of a failed order as the pixel sees it: its basket at list price, shipping, no order."""
    lines = range(int(cart.start[o]), int(cart.start[o] + cart.count[o]))
    subtotal = int(sum(int(cart.price_cents[j]) * int(cart.quantity[j]) for j in lines))
    shipping = SHIPPING_CENTS if subtotal < FREE_SHIPPING_CENTS else 0
    return {
        "revenue": (subtotal + shipping) / 100.0, "subtotal": subtotal / 100.0, "discount": 0.0,
        "shipping": shipping / 100.0, "coupon": None, "currency": "USD",
        "products": [{"product_id": str(cat.product_id[cart.product[j]]), "variant_id": str(cat.variant_id[cart.variant[j]]),
                      "sku": cat.variant_sku[cart.variant[j]], "name": cat.title[cart.product[j]],
                      "quantity": int(cart.quantity[j]), "price": int(cart.price_cents[j]) / 100.0} for j in lines],
    }  # fmt: skip
