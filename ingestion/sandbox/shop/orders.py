"""Orders: baskets, discounts, shipping, cancellations and refunds, as Shopify would show them.

Why baskets are built before the sessions are timed: the converting session views and adds exactly the
order's products, so the funnel events and the order's line items agree. Refunds never exceed their
order (a partial refund returns one unit of one line; a full refund returns everything), and state that
happens after `end_date` (a later refund or cancellation) is not visible yet: advancing the world
updates the order and its `updated_at`, as an incremental load expects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.sandbox.shop import seasonality
from ingestion.sandbox.shop.catalog import Catalog, pick_products
from ingestion.sandbox.shop.config import DAY_MS
from ingestion.sandbox.shop.rand import choice, uniform

ORDER_ID_BASE = 5_600_000_000_000
LINE_ITEM_ID_BASE = 13_900_000_000_000
REFUND_ID_BASE = 910_000_000_000
REFUND_LINE_ID_BASE = 540_000_000_000
FREE_SHIPPING_CENTS = 5000
SHIPPING_CENTS = 595
REFUND_NOTES = ["arrived damaged", "wrong size", "changed mind", "late delivery", "quality issue"]


@dataclass
class Basket:
    """Line items of converting sessions (before overlaps are resolved): flat arrays + per-order ranges."""

    start: np.ndarray  # per order: first line index
    count: np.ndarray  # per order: number of lines
    order: np.ndarray  # per line: order (converting-session) index
    product: np.ndarray
    variant: np.ndarray
    quantity: np.ndarray
    price_cents: np.ndarray


def build_baskets(
    cat: Catalog,
    key: np.ndarray,
    group: np.ndarray,
    at_ms: np.ndarray,
    repeat_buyer: np.ndarray,
    basket_size: np.ndarray,
) -> Basket:
    """Products of each order: from the buyer's affinity group, consumables for loyal re-buyers."""
    n = len(key)
    n_lines = 1 + choice(np.array([0.55, 0.27, 0.12, 0.06]), uniform(key, 601))
    n_lines = np.minimum(n_lines + ((basket_size > 1.3) & (uniform(key, 602) < 0.5)), 5)
    order = np.repeat(np.arange(n), n_lines)
    j = np.arange(len(order)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    lk = key[order]
    product = pick_products(cat, group[order], at_ms[order], uniform(lk, j, 603), uniform(lk, j, 604),
                            prefer_repeatable=repeat_buyer[order])  # fmt: skip
    # a product appears once per order
    srt = np.lexsort((j, product, order))
    dup = np.zeros(len(order), bool)
    dup[srt[1:]] = (order[srt[1:]] == order[srt[:-1]]) & (product[srt[1:]] == product[srt[:-1]])
    order, j, product, lk = order[~dup], j[~dup], product[~dup], lk[~dup]
    count = np.bincount(order, minlength=n)
    start = np.cumsum(count) - count
    first_variant = np.searchsorted(cat.variant_product, np.arange(len(cat)))
    n_variants = np.bincount(cat.variant_product, minlength=len(cat))
    variant = first_variant[product] + np.floor(uniform(lk, j, 605) * n_variants[product]).astype(np.int64)
    quantity = 1 + (uniform(lk, j, 606) < 0.18) + ((uniform(lk, j, 607) < 0.12) & cat.repeatable[product])
    return Basket(start=start, count=count, order=order, product=product, variant=variant,
                  quantity=quantity.astype(np.int64), price_cents=cat.variant_price_cents[variant])  # fmt: skip


@dataclass
class Money:
    """Per-order money and lifecycle (all orders up to the truth horizon), cents and ms."""

    gross: np.ndarray
    discount: np.ndarray
    subtotal: np.ndarray
    shipping: np.ndarray
    total: np.ndarray
    code: np.ndarray  # index into DISCOUNT_CODES, -1 none
    line_discount: np.ndarray
    cancelled_ms: np.ndarray  # -1 if never
    refund_ms: np.ndarray  # -1 if never
    refund_full: np.ndarray
    refund_line: np.ndarray  # line index of a partial refund, -1
    refund_amount: np.ndarray
    refund_note: np.ndarray


DISCOUNT_CODES = ["BFCM25", "WELCOME10", "NEWS15", "FRIEND20"]
DISCOUNT_PCT = np.array([0.25, 0.10, 0.15, 0.20])


def _bfcm_window(days: np.ndarray) -> np.ndarray:
    return seasonality.holiday_factor(days) >= 1.2


def price_orders(
    basket: Basket, key: np.ndarray, created_ms: np.ndarray, first_order: np.ndarray, email: np.ndarray
) -> Money:
    """Discount codes, shipping, cancellations and refunds of each order."""
    line_gross = basket.price_cents * basket.quantity
    gross = np.bincount(basket.order, weights=line_gross, minlength=len(key)).astype(np.int64)
    day = created_ms // DAY_MS
    code = np.full(len(key), -1)
    code = np.where((code < 0) & (uniform(key, 620) < 0.05), 3, code)
    code = np.where(email & (uniform(key, 621) < 0.35), 2, code)
    code = np.where(first_order & (uniform(key, 622) < 0.3), 1, code)
    code = np.where(_bfcm_window(day) & (uniform(key, 623) < 0.55), 0, code)
    pct = np.where(code >= 0, DISCOUNT_PCT[np.maximum(code, 0)], 0.0)
    line_discount = np.round(line_gross * pct[basket.order]).astype(np.int64)
    discount = np.bincount(basket.order, weights=line_discount, minlength=len(key)).astype(np.int64)
    subtotal = gross - discount
    shipping = np.where(subtotal < FREE_SHIPPING_CENTS, SHIPPING_CENTS, 0)
    total = subtotal + shipping

    cancelled = uniform(key, 630) < 0.02
    cancelled_ms = np.where(
        cancelled, created_ms + 3_600_000 + (uniform(key, 631) * 35 * 3_600_000).astype(np.int64), -1
    )
    refunded = ~cancelled & (uniform(key, 632) < 0.075)
    full = cancelled | (refunded & (uniform(key, 633) < 0.35))
    refund_ms = np.where(cancelled, cancelled_ms, -1)
    delay = ((3 + 37 * uniform(key, 634)) * DAY_MS).astype(np.int64)
    refund_ms = np.where(refunded, created_ms + delay, refund_ms)
    partial = refunded & ~full
    pick = basket.start + np.floor(uniform(key, 635) * np.maximum(basket.count, 1)).astype(np.int64)
    refund_line = np.where(partial & (basket.count > 0), pick, -1)
    rl = np.maximum(refund_line, 0)
    unit_net = basket.price_cents[rl] - line_discount[rl] // np.maximum(basket.quantity[rl], 1)
    refund_amount = np.where(full, total, np.where(partial, unit_net, 0))
    note = np.where(cancelled, -1, np.floor(uniform(key, 636) * len(REFUND_NOTES)).astype(np.int64))
    return Money(gross=gross, discount=discount, subtotal=subtotal, shipping=shipping, total=total, code=code,
                 line_discount=line_discount, cancelled_ms=cancelled_ms, refund_ms=refund_ms, refund_full=full,
                 refund_line=refund_line, refund_amount=refund_amount.astype(np.int64), refund_note=note)  # fmt: skip


def subset_baskets(b: Basket, orders: np.ndarray) -> Basket:
    """The baskets of `orders` (indices into b's orders), renumbered 0..len(orders)-1."""
    count = b.count[orders]
    start_old = np.repeat(b.start[orders], count)
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    lines = start_old + within
    return Basket(start=np.cumsum(count) - count, count=count, order=np.repeat(np.arange(len(orders)), count),
                  product=b.product[lines], variant=b.variant[lines], quantity=b.quantity[lines],
                  price_cents=b.price_cents[lines])  # fmt: skip


def first_orders(k0: np.ndarray, person: np.ndarray, created: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Each buyer's first order: their first converting session's (k == 0), or, when an incident took
    that order, the earliest one left."""
    first = k0.copy()
    orphan = np.ones(int(person.max()) + 1 if len(person) else 0, bool)
    orphan[person[k0]] = False
    left = np.flatnonzero(orphan[person])
    if len(left):
        left = left[np.lexsort((key[left], created[left], person[left]))]
        head = np.r_[True, person[left][1:] != person[left][:-1]]
        first[left[head]] = True
    return first
