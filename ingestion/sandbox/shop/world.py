"""Orchestrates the simulation and writes the world (docs/sandbox.md): Parquet tables, landing JSONL,
truth/, world.json and, with planted incidents, incidents.json.

Why regenerate instead of append on `advance`: every record is a pure function of (seed, day) or
(seed, entity), and records are written only when their timestamp is before end_date, so regenerating
with more days reproduces the old days byte for byte and adds the new ones (plus state changes of old
records, such as a refund, that happened in the new days).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ingestion.sandbox.shop import channels, checkout_flow, events, ga4, orders, search_ads, tables, truth
from ingestion.sandbox.shop.catalog import build_catalog
from ingestion.sandbox.shop.config import (
    DAY_MS,
    SIZES,
    START_DATE,
    TRUTH_HORIZON_DAYS,
    VERSION,
)
from ingestion.sandbox.shop.customers import DEVICES, build_people, person_strings
from ingestion.sandbox.shop.funnel import (
    CHECKOUT_STARTED,
    PRODUCT_ADDED,
    build_skeleton,
)  # fmt: skip
from ingestion.sandbox.shop.incidents import Incident, parse_incidents
from ingestion.sandbox.shop.marketing import URL_TAGS, build_meta, campaign_statuses, daily_spend, insights
from ingestion.sandbox.shop.rand import choice, hash64, uniform
from ingestion.sandbox.shop.traffic import (
    CHANNELS,
    CONVERT,
    EMAIL,
    PAID_SEARCH,
    PAID_SOCIAL,
    assign_device_and_channel,
    build_sessions,
    resolve_overlaps,
)  # fmt: skip

log = logging.getLogger(__name__)
CUSTOMER_ID_BASE = 7_300_000_000_000
TABLES = (
    "products", "product_variants", "customers", "orders", "order_line_items", "refunds", "refund_line_items",
    "meta_campaigns", "meta_adsets", "meta_ads", "meta_insights_daily", "google_ads_campaigns",
    "google_ads_ad_groups", "google_ads_ads", "google_ads_daily", "ga4_daily", "sessions",
)  # fmt: skip


def load_world(out: Path) -> dict:
    """The world.json of a generated world."""
    return json.loads((Path(out) / "world.json").read_text())


def advance_world(out: Path, days: int) -> dict:
    """Regenerate the world in `out` with `days` more days (same seed, size and planted incidents)."""
    world = load_world(out)
    return generate_world(world["size"], int(world["seed"]), Path(out), days=int(world["days"]) + int(days),
                          incidents=world.get("incidents"))  # fmt: skip


def generate_world(
    size: str, seed: int, out: Path, days: int | None = None, incidents: list[str] | None = None
) -> dict:
    """Generate the `size` world for `seed` into `out`; returns world.json's content (with counts).

    `incidents`: specs of planted incidents (incidents.py, e.g. `checkout_bug:2025-06-01:2025-06-21:mobile`);
    a malformed spec raises ValueError before anything is written."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {sorted(SIZES)}")
    planted: list[Incident] = parse_incidents(incidents)
    cfg = SIZES[size]
    days = cfg.days if days is None else int(days)
    if days < 1:
        raise ValueError("days must be >= 1")
    out = Path(out)
    t0 = time.perf_counter()
    end_ms = days * DAY_MS
    horizon_ms = (days + TRUTH_HORIZON_DAYS) * DAY_MS

    cat = build_catalog(cfg, seed)
    meta = build_meta(cfg, seed)
    people = build_people(cfg, seed, buyer_days=days + TRUTH_HORIZON_DAYS, visitor_days=days)
    s = build_sessions(people, seed, end_ms, horizon_ms)
    assign_device_and_channel(s, people, seed)
    log.info("simulated %d people, %d candidate sessions", len(people), len(s))

    # baskets and funnel steps of every candidate session, then one browser's sessions made disjoint
    conv = np.flatnonzero(s.kind == CONVERT)
    order_of = np.full(len(s), -1)
    order_of[conv] = np.arange(len(conv))
    cp = s.person[conv]
    basket = orders.build_baskets(cat, s.key[conv], people.group[cp], s.start_ms[conv],
                                  (s.k[conv] > 0) & (people.segment[cp] >= 2), people.basket[cp])  # fmt: skip
    sk = build_skeleton(s, cat, people.group[s.person], basket, order_of)
    keep = resolve_overlaps(s, sk.duration_ms)
    kept = np.flatnonzero(keep)
    new_index = np.cumsum(keep) - 1
    s = s.take(kept)
    rows = keep[sk.session]
    ev_sess = new_index[sk.session[rows]]
    ev_pos, ev_kind, ev_prod, ev_off = sk.pos[rows], sk.kind[rows], sk.product[rows], sk.offset_ms[rows]
    duration, identify_off, complete_off = sk.duration_ms[kept], sk.identify_ms[kept], sk.complete_ms[kept]
    old_order = order_of[kept]
    del sk

    # the checkout's last steps: payment, and the planted incidents' failures, whose orders never happen
    flow = checkout_flow.plan_checkout(
        s, ev_sess, ev_kind, ev_prod, ev_off, duration, old_order >= 0, planted
    )
    incident_rows = checkout_flow.incident_truth(
        planted, flow, old_order >= 0, s.start_ms, complete_off, end_ms
    )
    cart_of, cart = old_order, basket  # what each checkout holds, failed orders included
    ev_sess, ev_pos, ev_kind, ev_prod, ev_off = (a[flow.keep] for a in (ev_sess, ev_pos, ev_kind, ev_prod,
                                                                         flow.offset_ms))  # fmt: skip
    duration = flow.duration_ms
    identify_off = np.where(flow.lost, -1, identify_off)  # a failed checkout identifies nobody
    complete_off = np.where(flow.lost, -1, complete_off)
    old_order = np.where(flow.lost, -1, old_order)
    is_conv = old_order >= 0
    basket = orders.subset_baskets(basket, old_order[is_conv])
    conv = np.flatnonzero(is_conv)  # session index of each order
    order_of = np.full(len(s), -1)
    order_of[conv] = np.arange(len(conv))

    # orders (all of them up to the truth horizon; written when created before end_date)
    o_person = s.person[conv]
    o_created = s.start_ms[conv] + complete_off[conv]
    o_key = s.key[conv]
    o_first = orders.first_orders(s.k[conv] == 0, o_person, o_created, o_key)
    money = orders.price_orders(basket, o_key, o_created, o_first, s.channel[conv] == EMAIL)
    o_vis = o_created < end_ms
    rank = np.full(len(conv), -1)
    vis_idx = np.flatnonzero(o_vis)
    vis_sorted = vis_idx[np.lexsort((o_key[vis_idx], o_created[vis_idx]))]
    rank[vis_sorted] = np.arange(len(vis_sorted))
    order_id = orders.ORDER_ID_BASE + rank

    # customers: buyers whose first order is before end_date, numbered by first-order time
    first_idx = np.flatnonzero(o_first & o_vis)
    first_idx = first_idx[np.lexsort((o_key[first_idx], o_created[first_idx]))]
    cust_person = o_person[first_idx]
    cust_id = np.full(len(people), -1, dtype=np.int64)
    cust_id[cust_person] = CUSTOMER_ID_BASE + np.arange(len(cust_person))
    cust_created = np.full(len(people), np.iinfo(np.int64).max)
    # Shopify creates the customer at checkout, when the email is entered (the identify step)
    first_sess = conv[first_idx]
    cust_created[cust_person] = s.start_ms[first_sess] + identify_off[first_sess]

    # identity: a browser is known from its first identify (checkout or login) on
    browser = s.person * 2 + s.device
    ident_abs = np.where(identify_off >= 0, s.start_ms + identify_off, np.iinfo(np.int64).max)
    first_ident = np.full(len(people) * 2, np.iinfo(np.int64).max)
    np.minimum.at(first_ident, browser, ident_abs)

    # what is visible at end_date
    vis_s = np.flatnonzero(s.start_ms < end_ms)
    s_day = s.start_ms // DAY_MS
    spend = daily_spend(meta, seed, np.arange(days))
    ad = np.full(len(s), -1)
    ps = vis_s[s.channel[vis_s] == PAID_SOCIAL]
    ad[ps] = choice(spend[s_day[ps]], uniform(s.key[ps], 950))
    tags = channels.session_tags(s.channel[vis_s], s.key[vis_s], s.start_ms[vis_s], ad[vis_s], meta)

    # sessions table
    sess_end = s.start_ms + duration
    known = (
        (first_ident[browser] <= sess_end) & (cust_created[s.person] <= sess_end) & (cust_id[s.person] >= 0)
    )
    anon_ids = _anonymous_ids(seed, people.key[s.person], s.device)
    vs_order = np.lexsort((s.key[vis_s], s.start_ms[vis_s]))
    vsel = vis_s[vs_order]
    session_id = np.full(len(s), -1)
    session_id[vsel] = np.arange(1, len(vsel) + 1)
    tag_rows = {
        name: [getattr(tags, name)[i] for i in vs_order.tolist()] for name in tags.__dataclass_fields__
    }
    sessions_tbl = pa.table({
        "session_id": pa.array(session_id[vsel], pa.int64()),
        "anonymous_id": pa.array([anon_ids[i] for i in vsel.tolist()], pa.string()),
        "customer_id": pa.array(cust_id[s.person[vsel]], pa.int64(), mask=~known[vsel]),
        "started_at": tables.ts(s.start_ms[vsel]),
        "device": pa.array([DEVICES[d] for d in s.device_type[vsel].tolist()], pa.string()),
        "source": pa.array(tag_rows["source"], pa.string()),
        "medium": pa.array(tag_rows["medium"], pa.string()),
        "campaign": pa.array(tag_rows["campaign"], pa.string()),
        "utm_id": pa.array(tag_rows["utm_id"], pa.string()),
        "utm_content": pa.array(tag_rows["utm_content"], pa.string()),
        "fbclid": pa.array(tag_rows["fbclid"], pa.string()),
        "gclid": pa.array(tag_rows["gclid"], pa.string()),
        "referrer": pa.array(tag_rows["referrer"], pa.string()),
        "landing_page": pa.array(tag_rows["landing_path"], pa.string()),
        "blocked": pa.array(s.blocked[vsel], pa.bool_()),
        "channel": pa.array([CHANNELS[c] for c in s.channel[vsel].tolist()], pa.string()),
        "ended_at": tables.ts(sess_end[vsel]),
        "order_id": pa.array(order_id[np.maximum(order_of[vsel], 0)], pa.int64(),
                             mask=~((order_of[vsel] >= 0) & o_vis[np.maximum(order_of[vsel], 0)])),
    })  # fmt: skip
    tag_of = np.full(len(s), -1)
    tag_of[vis_s] = np.arange(len(vis_s))

    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    counts["sessions"] = tables.write(sessions_tbl, out / "sessions.parquet")

    # catalog
    pvis = cat.created_ms < end_ms
    upd = np.where(cat.updated_ms < end_ms, cat.updated_ms, cat.created_ms)
    pv = np.flatnonzero(pvis)
    counts["products"] = tables.write(pa.table({
        "product_id": pa.array(cat.product_id[pv], pa.int64()),
        "title": pa.array([cat.title[i] for i in pv], pa.string()),
        "handle": pa.array([cat.handle[i] for i in pv], pa.string()),
        "category": pa.array([cat.category[i] for i in pv], pa.string()),
        "vendor": pa.array(["Shop Example"] * len(pv), pa.string()),
        "price": tables.money(cat.price_cents[pv]),
        "repeatable": pa.array(cat.repeatable[pv], pa.bool_()),
        "created_at": tables.ts(cat.created_ms[pv]),
        "updated_at": tables.ts(upd[pv]),
        "status": pa.array(["ACTIVE"] * len(pv), pa.string()),
    }), out / "products.parquet")  # fmt: skip
    vv = np.flatnonzero(pvis[cat.variant_product])
    counts["product_variants"] = tables.write(pa.table({
        "variant_id": pa.array(cat.variant_id[vv], pa.int64()),
        "product_id": pa.array(cat.product_id[cat.variant_product[vv]], pa.int64()),
        "sku": pa.array([cat.variant_sku[i] for i in vv], pa.string()),
        "title": pa.array([cat.variant_title[i] for i in vv], pa.string()),
        "price": tables.money(cat.variant_price_cents[vv]),
        "unit_cost": tables.money(cat.variant_cost_cents[vv]),
    }), out / "product_variants.parquet")  # fmt: skip

    # customers
    strings = person_strings(seed, people.key[cust_person])
    n_c = len(cust_person)
    email = [f"{f.lower()}.{ln.lower()}{i + 1}@{e.split('@')[1]}" for i, (f, ln, e) in
             enumerate(zip(strings["first_name"], strings["last_name"], strings["email"], strict=True))]  # fmt: skip
    last_order = np.full(len(people), -1, dtype=np.int64)
    np.maximum.at(last_order, o_person[o_vis], o_created[o_vis])
    n_orders_vis = np.bincount(o_person[o_vis], minlength=len(people))
    has_account = uniform(seed, people.key[cust_person], 960) < 0.45
    counts["customers"] = tables.write(pa.table({
        "customer_id": pa.array(cust_id[cust_person], pa.int64()),
        "email": pa.array(email, pa.string()),
        "phone": pa.array(strings["phone"], pa.string()),
        "first_name": pa.array(strings["first_name"], pa.string()),
        "last_name": pa.array(strings["last_name"], pa.string()),
        "city": pa.array(strings["city"], pa.string()),
        "country_code": pa.array(strings["country_code"], pa.string()),
        "province_code": pa.array(strings["province_code"], pa.string()),
        "accepts_marketing": pa.array(people.accepts_marketing[cust_person], pa.bool_()),
        "created_at": tables.ts(cust_created[cust_person]),
        "updated_at": tables.ts(np.maximum(last_order[cust_person], cust_created[cust_person])),
        "state": pa.array(np.where(has_account, "ENABLED", "DISABLED").tolist(), pa.string()),
        "number_of_orders": pa.array(n_orders_vis[cust_person], pa.int64()),
    }), out / "customers.parquet")  # fmt: skip
    cust_row = np.full(len(people), -1)
    cust_row[cust_person] = np.arange(n_c)

    # orders, line items, refunds as visible at end_date
    ov = vis_sorted
    osess = conv[ov]
    cancelled_vis = (money.cancelled_ms >= 0) & (money.cancelled_ms < end_ms)
    refund_vis = (money.refund_ms >= 0) & (money.refund_ms < end_ms)
    refunded_amt = np.where(refund_vis, money.refund_amount, 0)
    fin = np.where(
        refunded_amt == 0, "PAID", np.where(refunded_amt >= money.total, "REFUNDED", "PARTIALLY_REFUNDED")
    )
    updated = np.maximum(o_created, np.where(cancelled_vis, money.cancelled_ms, -1))
    updated = np.maximum(updated, np.where(refund_vis, money.refund_ms, -1))
    journey = _journey(s, browser, osess, tags, tag_of, ov, o_key[ov])
    crow = cust_row[o_person[ov]]
    code_names = [orders.DISCOUNT_CODES[c] if c >= 0 else None for c in money.code[ov].tolist()]
    blocked_o = s.blocked[osess]
    counts["orders"] = tables.write(pa.table({
        "order_id": pa.array(order_id[ov], pa.int64()),
        "order_number": pa.array(1001 + rank[ov], pa.int64()),
        "name": pa.array([f"#{1001 + r}" for r in rank[ov].tolist()], pa.string()),
        "customer_id": pa.array(cust_id[o_person[ov]], pa.int64()),
        "email": pa.array([email[r] for r in crow.tolist()], pa.string()),
        "phone": pa.array([strings["phone"][r] for r in crow.tolist()], pa.string()),
        "created_at": tables.ts(o_created[ov]),
        "processed_at": tables.ts(o_created[ov]),
        "updated_at": tables.ts(updated[ov]),
        "cancelled_at": tables.ts(money.cancelled_ms[ov], null=~cancelled_vis[ov]),
        "financial_status": pa.array(fin[ov].tolist(), pa.string()),
        "currency": pa.array(["USD"] * len(ov), pa.string()),
        "subtotal_price": tables.money(money.subtotal[ov]),
        "total_discounts": tables.money(money.discount[ov]),
        "total_shipping": tables.money(money.shipping[ov]),
        "total_price": tables.money(money.total[ov]),
        "total_refunded": tables.money(refunded_amt[ov]),
        "discount_code": pa.array(code_names, pa.string()),
        "anonymous_id": pa.array([None if b else anon_ids[i] for i, b in zip(osess.tolist(), blocked_o.tolist(), strict=True)], pa.string()),
        "source_name": pa.array(["web"] * len(ov), pa.string()),
        "landing_page": pa.array([tags.landing_path[tag_of[i]] for i in osess.tolist()], pa.string()),
        "referring_site": pa.array([tags.referrer[tag_of[i]] for i in osess.tolist()], pa.string()),
        **journey,
        "test": pa.array(np.zeros(len(ov), bool), pa.bool_()),
    }), out / "orders.parquet")  # fmt: skip

    lines = np.flatnonzero(np.isin(basket.order, ov))
    lines = lines[np.lexsort((lines, rank[basket.order[lines]]))]
    line_id = np.full(len(basket.order), -1)
    line_id[lines] = orders.LINE_ITEM_ID_BASE + np.arange(len(lines))
    lp = basket.product[lines]
    counts["order_line_items"] = tables.write(pa.table({
        "line_item_id": pa.array(line_id[lines], pa.int64()),
        "order_id": pa.array(order_id[basket.order[lines]], pa.int64()),
        "product_id": pa.array(cat.product_id[lp], pa.int64()),
        "variant_id": pa.array(cat.variant_id[basket.variant[lines]], pa.int64()),
        "sku": pa.array([cat.variant_sku[v] for v in basket.variant[lines].tolist()], pa.string()),
        "title": pa.array([cat.title[p] for p in lp.tolist()], pa.string()),
        "quantity": pa.array(basket.quantity[lines], pa.int64()),
        "price": tables.money(basket.price_cents[lines]),
        "total_discount": tables.money(money.line_discount[lines]),
    }), out / "order_line_items.parquet")  # fmt: skip

    rf = ov[refund_vis[ov]]
    rf = rf[np.lexsort((rank[rf], money.refund_ms[rf]))]
    refund_id = orders.REFUND_ID_BASE + np.arange(len(rf))
    notes = ["order cancelled" if n < 0 else orders.REFUND_NOTES[n] for n in money.refund_note[rf].tolist()]
    counts["refunds"] = tables.write(pa.table({
        "refund_id": pa.array(refund_id, pa.int64()),
        "order_id": pa.array(order_id[rf], pa.int64()),
        "created_at": tables.ts(money.refund_ms[rf]),
        "note": pa.array(notes, pa.string()),
        "amount": tables.money(money.refund_amount[rf]),
    }), out / "refunds.parquet")  # fmt: skip
    r_lines, r_ref, r_qty, r_sub = [], [], [], []
    for ri, o in enumerate(rf.tolist()):
        if money.refund_full[o]:
            for ln in range(basket.start[o], basket.start[o] + basket.count[o]):
                r_lines.append(ln)
                r_ref.append(ri)
                r_qty.append(int(basket.quantity[ln]))
                r_sub.append(int(basket.price_cents[ln] * basket.quantity[ln] - money.line_discount[ln]))
        else:
            ln = int(money.refund_line[o])
            r_lines.append(ln)
            r_ref.append(ri)
            r_qty.append(1)
            r_sub.append(int(money.refund_amount[o]))
    r_lines_a = np.array(r_lines, dtype=np.int64)
    counts["refund_line_items"] = tables.write(pa.table({
        "refund_line_item_id": pa.array(orders.REFUND_LINE_ID_BASE + np.arange(len(r_lines)), pa.int64()),
        "refund_id": pa.array(refund_id[np.array(r_ref, dtype=np.int64)] if r_ref else [], pa.int64()),
        "line_item_id": pa.array(line_id[r_lines_a] if r_lines else [], pa.int64()),
        "quantity": pa.array(r_qty, pa.int64()),
        "subtotal": tables.money(np.array(r_sub, dtype=np.int64)),
    }), out / "refund_line_items.parquet")  # fmt: skip

    # Meta
    counts.update(_write_meta(out, meta, seed, days, spend, s, ad, vis_s, ev_sess, ev_kind, conv, o_created,
                              money.total, end_ms))  # fmt: skip
    counts.update(search_ads.write_google_ads(out, seed, days, s.start_ms, s.channel == PAID_SEARCH, s.key, conv,
                                              o_created, money.total, end_ms))  # fmt: skip

    # events (non-blocked browsers, before end_date): the skeleton's rows, then the checkout's last steps
    x_sess, x_pos, x_kind = (np.concatenate([a, b]) for a, b in
                             ((ev_sess, flow.session), (ev_pos, flow.pos), (ev_kind, flow.kind)))  # fmt: skip
    x_prod = np.concatenate([ev_prod, flow.product])
    ev_abs = s.start_ms[x_sess] + np.concatenate([ev_off, flow.added_offset_ms])
    show = ~s.blocked[x_sess] & (ev_abs < end_ms) & (s.start_ms[x_sess] < end_ms)
    e_sess = x_sess[show]
    e_abs = ev_abs[show]
    uid = np.where(
        (first_ident[browser[e_sess]] <= e_abs) & (cust_created[s.person[e_sess]] <= e_abs),
        cust_id[s.person[e_sess]],
        -1,
    )
    e_kind = x_kind[show]
    e_prod = x_prod[show]
    # browsing checkouts carry the added product; converting ones the order (a failed one its cart)
    qty = np.ones(len(e_sess), dtype=np.int64)
    conv_rows = (cart_of[e_sess] >= 0) & (e_kind == PRODUCT_ADDED)
    if conv_rows.any():
        o = cart_of[e_sess[conv_rows]]
        line = cart.start[o] + _unit_of_add(x_kind, x_sess, show)[conv_rows]
        qty[conv_rows] = cart.quantity[line]
    ck = e_kind == CHECKOUT_STARTED
    added_prod = _last_added_product(e_sess, e_kind, e_prod)
    e_prod = np.where(ck, added_prod, e_prod)
    ctx = _contexts(seed, s, tags, tag_of, anon_ids)
    order_props = {}
    for oi in ov.tolist():
        si = int(conv[oi])
        if s.blocked[si]:
            continue
        b0, bn = basket.start[oi], basket.count[oi]
        order_props[int(tag_of[si])] = {
            "order_id": str(order_id[oi]), "revenue": int(money.total[oi]) / 100.0,
            "subtotal": int(money.subtotal[oi]) / 100.0, "discount": int(money.discount[oi]) / 100.0,
            "shipping": int(money.shipping[oi]) / 100.0, "coupon": code_names[int(rank[oi])],
            "currency": "USD",
            "products": [{"product_id": str(cat.product_id[basket.product[j]]),
                          "variant_id": str(cat.variant_id[basket.variant[j]]), "sku": cat.variant_sku[basket.variant[j]],
                          "name": cat.title[basket.product[j]], "quantity": int(basket.quantity[j]),
                          "price": int(basket.price_cents[j]) / 100.0} for j in range(b0, b0 + bn)],
        }  # fmt: skip
    for si in np.flatnonzero(flow.lost & ~s.blocked & (tag_of >= 0)).tolist():
        order_props[int(tag_of[si])] = checkout_flow.cart_properties(cart, int(cart_of[si]), cat)
    land = out / "landing" / "events"
    old_files = set(land.glob("dt=*/sim-*.jsonl")) if land.exists() else set()
    cols = events.EventColumns(session=tag_of[e_sess], pos=x_pos[show], kind=e_kind, product=e_prod,
                               ts_ms=e_abs + tables.START_EPOCH_MS, user_id=uid, quantity=qty)  # fmt: skip
    n_events, files = events.write_landing(
        land, seed, cols, ctx, s.key[vis_s], cat, order_props, cfg.events_per_file
    )
    for stale in sorted(old_files - set(files)):
        stale.unlink()
    counts["events"] = n_events
    counts["landing_files"] = len(files)

    # GA4
    counts["ga4_daily"] = _write_ga4(out, seed, s, vis_s, tags, ev_sess, ev_kind, conv, order_of, o_created,
                                     money.total, end_ms, anon_ids)  # fmt: skip

    # truth
    net = np.where(
        money.cancelled_ms >= 0, 0, money.total - np.where(money.refund_ms >= 0, money.refund_amount, 0)
    )
    tables.write(truth.customers_truth(cust_id[cust_person], cust_person, people, end_ms, horizon_ms, o_person,
                                       o_created, net, money.cancelled_ms >= 0, o_created[first_idx]),
                 out / "truth" / "customers_truth.parquet")  # fmt: skip
    tables.write(truth.products_truth(cat, pv), out / "truth" / "products_truth.parquet")

    world = {
        "seed": int(seed), "size": size, "start_date": str(START_DATE),
        "end_date": str(START_DATE + np.timedelta64(days, "D")), "days": days,
        "generated_at_version": VERSION, "counts": dict(sorted(counts.items())),
    }  # fmt: skip
    truth_file = out / "incidents.json"
    if planted:
        world["incidents"] = [i.spec for i in planted]
        truth_file.write_text(json.dumps(incident_rows, indent=2, sort_keys=True) + "\n")
    else:
        truth_file.unlink(missing_ok=True)  # a world regenerated without incidents has none
    (out / "world.json").write_text(json.dumps(world, indent=2, sort_keys=True) + "\n")
    log.info("generated %s world (%d days) in %.1fs: %s", size, days, time.perf_counter() - t0, counts)
    return world


def _anonymous_ids(seed: int, person_key: np.ndarray, device: np.ndarray) -> list[str]:
    h1 = hash64(seed, person_key, device, 970).tolist()
    h2 = hash64(seed, person_key, device, 971).tolist()
    return [f"a-{a:016x}{b:08x}" for a, b in zip(h1, (x >> 32 for x in h2), strict=True)]


def _unit_of_add(kind: np.ndarray, sess: np.ndarray, show: np.ndarray) -> np.ndarray:
    """For each event row: how many Product Added rows precede it in its session."""
    is_add = (kind == PRODUCT_ADDED).astype(np.int64)
    cum = np.cumsum(is_add) - is_add
    starts = np.flatnonzero(np.r_[True, sess[1:] != sess[:-1]])
    base = np.repeat(cum[starts], np.diff(np.r_[starts, len(sess)]))
    return (cum - base)[show]


def _last_added_product(sess: np.ndarray, kind: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Per event row: the product of the most recent Product Added row of the same session (or -1)."""
    idx = np.where(kind == PRODUCT_ADDED, np.arange(len(kind)), -1)
    idx = np.maximum.accumulate(idx) if len(idx) else idx
    ok = (idx >= 0) & (sess[np.maximum(idx, 0)] == sess)
    return np.where(ok, product[np.maximum(idx, 0)], 0)


def _journey(s, browser, osess, tags, tag_of, ov, o_key) -> dict[str, pa.Array]:
    """Shopify's customerJourneySummary: first visit of the browser within 30 days, and the last visit."""
    del ov
    vis = np.flatnonzero(tag_of >= 0)
    big = np.int64(1) << np.int64(42)
    skey = browser[vis] * big + s.start_ms[vis] + 100 * DAY_MS
    order = np.argsort(skey, kind="stable")
    skey, svis = skey[order], vis[order]
    lo = np.searchsorted(skey, browser[osess] * big + s.start_ms[osess] - 30 * DAY_MS + 100 * DAY_MS)
    first = svis[lo]
    missing = uniform(o_key, 980) < 0.07
    f_t, l_t = tag_of[first], tag_of[osess]

    def col(values: list, idx: np.ndarray) -> pa.Array:
        return pa.array(
            [None if m else values[i] for i, m in zip(idx.tolist(), missing.tolist(), strict=True)],
            pa.string(),
        )

    return {
        "first_visit_source": col(tags.source, f_t), "first_visit_medium": col(tags.medium, f_t),
        "first_visit_campaign": col(tags.campaign, f_t), "first_visit_content": col(tags.utm_content, f_t),
        "first_visit_landing_page": col(tags.landing_path, f_t), "first_visit_referrer": col(tags.referrer, f_t),
        "first_visit_at": tables.ts(s.start_ms[first], null=missing),
        "last_visit_source": col(tags.source, l_t), "last_visit_medium": col(tags.medium, l_t),
        "last_visit_campaign": col(tags.campaign, l_t), "last_visit_content": col(tags.utm_content, l_t),
        "last_visit_landing_page": col(tags.landing_path, l_t), "last_visit_referrer": col(tags.referrer, l_t),
        "last_visit_at": tables.ts(s.start_ms[osess], null=missing),
    }  # fmt: skip


def _contexts(seed: int, s, tags, tag_of, anon_ids) -> events.SessionContext:
    vis = np.flatnonzero(tag_of >= 0)
    vis = vis[np.argsort(tag_of[vis])]
    ua_pick = uniform(seed, s.person[vis], s.device[vis], 990).tolist()
    devices = [DEVICES[d] for d in s.device_type[vis].tolist()]
    uas = [
        events.USER_AGENTS[d][int(u * len(events.USER_AGENTS[d]))]
        for d, u in zip(devices, ua_pick, strict=True)
    ]
    campaigns, clicks = [], []
    for i in range(len(vis)):
        q = tags.query[i]
        if q and "utm_source" in q:
            campaigns.append({"source": tags.source[i], "medium": tags.medium[i], "name": tags.campaign[i],
                              "id": tags.utm_id[i], "content": tags.utm_content[i], "term": None})  # fmt: skip
        else:
            campaigns.append(None)
        clicks.append({"fbclid": tags.fbclid[i], "gclid": tags.gclid[i]})
    tok = hash64(s.key[vis], 991).tolist()
    return events.SessionContext(
        anonymous_id=[anon_ids[i] for i in vis.tolist()], landing_path=tags.landing_path,
        landing_title=tags.landing_title, query=tags.query, referrer=tags.referrer, campaign=campaigns,
        click_ids=clicks, device=devices, user_agent=uas, checkout_token=[f"{t:016x}" for t in tok],
    )  # fmt: skip


def _write_meta(
    out, meta, seed, days, spend, s, ad, vis_s, ev_sess, ev_kind, conv, o_created, o_total, end_ms
):
    counts = {}
    camp_vis = np.flatnonzero(meta.campaign_start < days)
    created = (meta.campaign_start - 3) * DAY_MS + 36_000_000
    status, changed = campaign_statuses(meta, days)
    stopped = meta.campaign_stop <= days
    updated = np.where(stopped, changed * DAY_MS + 3_600_000, created)
    cv = camp_vis
    counts["meta_campaigns"] = tables.write(pa.table({
        "campaign_id": pa.array([meta.campaign_id[i] for i in cv], pa.string()),
        "name": pa.array([meta.campaign_name[i] for i in cv], pa.string()),
        "objective": pa.array([meta.objective[i] for i in cv], pa.string()),
        "status": pa.array([status[i] for i in cv], pa.string()),
        "created_time": tables.ts(created[cv]),
        "updated_time": tables.ts(updated[cv]),
        "daily_budget": tables.money((meta.budget[cv] * 100).astype(np.int64)),
    }), out / "meta_campaigns.parquet")  # fmt: skip
    av = np.flatnonzero(np.isin(meta.adset_campaign, cv))
    ac = meta.adset_campaign[av]
    counts["meta_adsets"] = tables.write(pa.table({
        "adset_id": pa.array([meta.adset_id[i] for i in av], pa.string()),
        "campaign_id": pa.array([meta.campaign_id[c] for c in ac], pa.string()),
        "name": pa.array([meta.adset_name[i] for i in av], pa.string()),
        "status": pa.array([status[c] for c in ac], pa.string()),
        "created_time": tables.ts(created[ac] + 600_000),
        "updated_time": tables.ts(updated[ac] + 600_000),
        "targeting_summary": pa.array([n.split(" | ", 1)[1] for n in (meta.adset_name[i] for i in av)], pa.string()),
    }), out / "meta_adsets.parquet")  # fmt: skip
    dv = np.flatnonzero(np.isin(meta.ad_campaign, cv))
    dc = meta.ad_campaign[dv]
    counts["meta_ads"] = tables.write(pa.table({
        "ad_id": pa.array([meta.ad_id[i] for i in dv], pa.string()),
        "adset_id": pa.array([meta.adset_id[meta.ad_adset[i]] for i in dv], pa.string()),
        "campaign_id": pa.array([meta.campaign_id[c] for c in dc], pa.string()),
        "name": pa.array([meta.ad_name[i] for i in dv], pa.string()),
        "status": pa.array([status[c] for c in dc], pa.string()),
        "created_time": tables.ts(created[dc] + 1_200_000),
        "updated_time": tables.ts(updated[dc] + 1_200_000),
        "url_tags": pa.array([URL_TAGS] * len(dv), pa.string()),
    }), out / "meta_ads.parquet")  # fmt: skip

    n_ads = len(meta.ad_id)
    ps = vis_s[ad[vis_s] >= 0]
    day = s.start_ms[ps] // DAY_MS
    cell = day * n_ads + ad[ps]
    sessions = np.bincount(cell, minlength=days * n_ads).reshape(days, n_ads)
    added_sess = np.zeros(len(s), bool)
    added_sess[ev_sess[ev_kind == PRODUCT_ADDED]] = True
    atc = np.bincount(cell, weights=added_sess[ps], minlength=days * n_ads).reshape(days, n_ads)
    oc = conv[(ad[conv] >= 0) & (o_created < end_ms)]
    oidx = np.searchsorted(conv, oc)
    ocell = (s.start_ms[oc] // DAY_MS) * n_ads + ad[oc]
    n_orders = np.bincount(ocell, minlength=days * n_ads).reshape(days, n_ads)
    revenue = np.bincount(ocell, weights=o_total[oidx] / 100.0, minlength=days * n_ads).reshape(days, n_ads)
    ins = insights(meta, seed, np.arange(days), spend, sessions, atc.astype(np.int64), n_orders, revenue)
    a = ins["ad"].astype(np.int64)
    counts["meta_insights_daily"] = tables.write(pa.table({
        "date": tables.date(ins["day"].astype(np.int64)),
        "ad_id": pa.array([meta.ad_id[i] for i in a.tolist()], pa.string()),
        "adset_id": pa.array([meta.adset_id[meta.ad_adset[i]] for i in a.tolist()], pa.string()),
        "campaign_id": pa.array([meta.campaign_id[meta.ad_campaign[i]] for i in a.tolist()], pa.string()),
        "spend": tables.money(np.round(ins["spend"] * 100).astype(np.int64)),
        "impressions": pa.array(ins["impressions"], pa.int64()),
        "clicks": pa.array(ins["clicks"], pa.int64()),
        "reach": pa.array(ins["reach"], pa.int64()),
        "purchases": pa.array(ins["purchases"], pa.int64()),
        "purchase_value": tables.money(np.round(ins["purchase_value"] * 100).astype(np.int64)),
        "add_to_carts": pa.array(ins["add_to_carts"], pa.int64()),
        "landing_page_views": pa.array(ins["landing_page_views"], pa.int64()),
    }), out / "meta_insights_daily.parquet")  # fmt: skip
    return counts


def _write_ga4(
    out, seed, s, vis_s, tags, ev_sess, ev_kind, conv, order_of, o_created, o_total, end_ms, anon_ids
):
    n = len(s)
    added = np.zeros(n, bool)
    added[ev_sess[ev_kind == PRODUCT_ADDED]] = True
    checkout = np.zeros(n, bool)
    checkout[ev_sess[ev_kind == CHECKOUT_STARTED]] = True
    n_ev = np.bincount(ev_sess, minlength=n)
    purchased = np.zeros(n, bool)
    revenue = np.zeros(n)
    ok = o_created < end_ms
    purchased[conv[ok]] = True
    revenue[conv[ok]] = o_total[ok] / 100.0
    del order_of
    ga_blocked = s.blocked | (uniform(seed, s.key, 995) < 0.06)
    sel = np.flatnonzero(~ga_blocked[vis_s])
    idx = vis_s[sel]
    browser = s.person[idx] * 2 + s.device[idx]
    first_seen = np.full(int(browser.max()) + 1 if len(browser) else 1, np.iinfo(np.int64).max)
    np.minimum.at(first_seen, browser, s.start_ms[idx])
    frame = pd.DataFrame({
        "day": s.start_ms[idx] // DAY_MS,
        "session_source": [tags.ga_source[i] for i in sel.tolist()],
        "session_medium": [tags.ga_medium[i] for i in sel.tolist()],
        "session_campaign_name": [tags.ga_campaign[i] for i in sel.tolist()],
        "device_category": [DEVICES[d] for d in s.device_type[idx].tolist()],
        "engaged": n_ev[idx] >= 3, "added": added[idx], "checkout": checkout[idx],
        "purchased": purchased[idx], "revenue": revenue[idx], "user": browser,
        "new_user": first_seen[browser] == s.start_ms[idx],
    })  # fmt: skip
    g = ga4.ga4_daily(frame, seed)
    return tables.write(pa.table({
        "date": tables.date(g["day"].to_numpy(np.int64)),
        "session_source": pa.array(g["session_source"].tolist(), pa.string()),
        "session_medium": pa.array(g["session_medium"].tolist(), pa.string()),
        "session_campaign_name": pa.array(g["session_campaign_name"].tolist(), pa.string()),
        "device_category": pa.array(g["device_category"].tolist(), pa.string()),
        "sessions": pa.array(g["sessions"].to_numpy(np.int64)),
        "engaged_sessions": pa.array(g["engaged_sessions"].to_numpy(np.int64)),
        "add_to_carts": pa.array(g["add_to_carts"].to_numpy(np.int64)),
        "checkouts": pa.array(g["checkouts"].to_numpy(np.int64)),
        "ecommerce_purchases": pa.array(g["ecommerce_purchases"].to_numpy(np.int64)),
        "purchase_revenue": pa.array(g["purchase_revenue"].to_numpy(np.float64)),
        "total_users": pa.array(g["total_users"].to_numpy(np.int64)),
        "new_users": pa.array(g["new_users"].to_numpy(np.int64)),
    }), out / "ga4_daily.parquet")  # fmt: skip
