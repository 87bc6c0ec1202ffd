"""Web sessions: who visits when, from which channel and device, and which sessions buy.

Why sessions come from people: every order is the last step of a converting session of a buyer; other
sessions are browsing (buyers before their first order and while they are alive, anonymous visitors who
never buy). Channel and device mixes differ between converting and browsing sessions, which is what
makes conversion rates differ by channel (email, paid search high; display, social low) and device
(mobile low). Sessions of one browser never overlap and are > 30 min apart, so sessionization by
inactivity recovers them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ingestion.sandbox.shop import seasonality
from ingestion.sandbox.shop.config import DAY_MS, SESSION_GAP_MS
from ingestion.sandbox.shop.customers import People, poisson_times
from ingestion.sandbox.shop.rand import choice, exponential, hash64, uniform

CHANNELS = [
    "paid_social", "paid_search", "organic_search", "organic_social", "email", "referral", "direct",
    "display", "affiliate",
]  # fmt: skip
PAID_SOCIAL, PAID_SEARCH, ORGANIC_SEARCH, ORGANIC_SOCIAL, EMAIL, REFERRAL, DIRECT, DISPLAY, AFFILIATE = range(
    9
)
ACQUISITION_MIX = np.array([0.30, 0.16, 0.19, 0.08, 0.0, 0.06, 0.10, 0.05, 0.06])
VISITOR_MIX = np.array([0.34, 0.12, 0.20, 0.11, 0.0, 0.06, 0.08, 0.06, 0.03])
RETURNING_MIX = np.array([0.10, 0.09, 0.12, 0.05, 0.26, 0.04, 0.28, 0.03, 0.03])
CONVERSION_LIFT = np.array([0.55, 1.9, 1.0, 0.5, 2.6, 0.9, 1.5, 0.25, 1.3])
DEVICE_CONVERSION_LIFT = np.array([1.7, 0.55, 1.0])  # desktop, mobile, tablet

CONVERT, PRE, POST, VISIT = 0, 1, 2, 3
STREAM_REPEAT, STREAM_BROWSE = 501, 503


@dataclass
class Sessions:
    """Columnar sessions; `person` indexes People, `k` numbers sessions of one person and kind."""

    person: np.ndarray
    kind: np.ndarray
    k: np.ndarray
    start_ms: np.ndarray
    key: np.ndarray = field(default=None)  # uint64
    device: np.ndarray = field(default=None)  # 0/1: which of the person's browsers
    device_type: np.ndarray = field(default=None)
    blocked: np.ndarray = field(default=None)
    channel: np.ndarray = field(default=None)

    def take(self, idx: np.ndarray) -> Sessions:
        return Sessions(**{k: (v[idx] if v is not None else None) for k, v in self.__dict__.items()})

    def __len__(self) -> int:
        return len(self.person)


def build_sessions(people: People, seed: int, end_ms: int, horizon_ms: int) -> Sessions:
    """Converting sessions (every order, up to the truth horizon) and browsing sessions before `end_ms`."""
    buyers = np.flatnonzero(people.is_buyer)
    visitors = np.flatnonzero(~people.is_buyer)
    key = people.key
    parts = []
    # first orders: the buyer's arrival
    parts.append(
        (buyers, np.full(len(buyers), CONVERT), np.zeros(len(buyers), np.int64), people.arrival_ms[buyers])
    )
    # repeat orders: seasonal Poisson process until true churn (or the horizon)
    # orders stop the day before the true churn date (a session must finish before midnight)
    stop = np.minimum((people.churn_ms[buyers] // DAY_MS) * DAY_MS - 3_600_000, horizon_ms)
    p, k, t = poisson_times(seed, key[buyers], people.rate_per_day[buyers], people.arrival_ms[buyers] + 3_600_000,
                            stop, STREAM_REPEAT, 1.0)  # fmt: skip
    parts.append((buyers[p], np.full(len(p), CONVERT), k + 1, t))
    # research sessions before the first order (days before, any time of day)
    n_pre = choice(np.array([0.25, 0.3, 0.22, 0.13, 0.1]), uniform(seed, key[buyers], 504))
    pb = np.repeat(buyers, n_pre)
    pk = np.arange(len(pb)) - np.repeat(np.cumsum(n_pre) - n_pre, n_pre)
    back_days = np.floor(exponential(3.0, seed, key[pb], pk, 505)).astype(np.int64) + 1
    day = people.arrival_ms[pb] // DAY_MS - np.minimum(back_days, 20)
    pt = day * DAY_MS + seasonality.time_of_day_ms(
        uniform(seed, key[pb], pk, 506), uniform(seed, key[pb], pk, 507)
    )
    parts.append((pb, np.full(len(pb), PRE), pk, pt))
    # browsing while alive: returning customers (stops at true churn)
    browse_rate = 2.5 * people.rate_per_day[buyers] + 1 / 25
    stop = np.minimum(people.churn_ms[buyers], end_ms)
    p, k, t = poisson_times(seed, key[buyers], browse_rate, people.arrival_ms[buyers] + 3_600_000, stop,
                            STREAM_BROWSE, 0.5)  # fmt: skip
    parts.append((buyers[p], np.full(len(p), POST), k, t))
    # anonymous visitors: first visit, then a few returns days apart
    extra = np.minimum(np.floor(np.log1p(-uniform(seed, key[visitors], 508)) / np.log(1 - 1 / 5.5)), 40)
    n_v = 1 + extra.astype(np.int64)
    vb = np.repeat(visitors, n_v)
    vk = np.arange(len(vb)) - np.repeat(np.cumsum(n_v) - n_v, n_v)
    gaps = exponential(6.0, seed, key[vb], vk, 509) * (vk > 0)
    cum = np.cumsum(gaps)
    cum = cum - np.repeat(cum[np.cumsum(n_v) - n_v], n_v)
    vday = people.arrival_ms[vb] // DAY_MS + np.floor(cum).astype(np.int64)
    vt = np.where(
        vk == 0, people.arrival_ms[vb],
        vday * DAY_MS + seasonality.time_of_day_ms(uniform(seed, key[vb], vk, 510), uniform(seed, key[vb], vk, 511)),
    )  # fmt: skip
    parts.append((vb, np.full(len(vb), VISIT), vk, vt))

    person = np.concatenate([x[0] for x in parts]).astype(np.int64)
    kind = np.concatenate([x[1] for x in parts]).astype(np.int64)
    kk = np.concatenate([x[2] for x in parts]).astype(np.int64)
    start = np.concatenate([x[3] for x in parts]).astype(np.int64)
    keep = (kind == CONVERT) | ((start < end_ms) & (start >= 0))
    s = Sessions(person=person[keep], kind=kind[keep], k=kk[keep], start_ms=start[keep])
    s.key = hash64(seed, people.key[s.person], s.kind, s.k, 512)
    return s


def assign_device_and_channel(s: Sessions, people: People, seed: int) -> None:
    """Which browser (device) and which channel each session uses."""
    key = s.key
    two = people.n_devices[s.person] == 2
    dt = people.device_type[s.person]
    conv = s.kind == CONVERT
    w_conv = DEVICE_CONVERSION_LIFT[dt[:, 0]] / (
        DEVICE_CONVERSION_LIFT[dt[:, 0]] + DEVICE_CONVERSION_LIFT[dt[:, 1]]
    )
    p_first = np.where(conv, w_conv, 0.72)
    s.device = np.where(two & (uniform(key, 520) >= p_first), 1, 0)
    s.device_type = dt[np.arange(len(s)), s.device]
    s.blocked = people.blocked[s.person, s.device]

    is_visitor = s.kind == VISIT
    returning = ((s.kind == CONVERT) & (s.k > 0)) | (s.kind == POST)
    base = np.where(is_visitor[:, None], VISITOR_MIX, ACQUISITION_MIX)
    base = np.where(returning[:, None], RETURNING_MIX, base)
    weights = np.where(conv[:, None], base * CONVERSION_LIFT, base)
    drawn = choice(weights, uniform(key, 521))
    p_pref = np.where(conv, np.where(returning, 0.2, 0.45), np.where(returning, 0.25, 0.5))
    ch = np.where(uniform(key, 522) < p_pref, people.pref_channel[s.person], drawn)
    # email needs a subscriber: the brand can only mail customers who accepted marketing
    no_mail = (ch == EMAIL) & ~(returning & people.accepts_marketing[s.person])
    s.channel = np.where(no_mail, DIRECT, ch)


def drop_later_overlaps(group: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Keep-mask for intervals sorted by (group, start): a session that starts within 30 min of the end
    of the previous kept one of the same browser is dropped (earlier sessions win, so the result for
    day d depends only on sessions up to d)."""
    keep = np.ones(len(group), bool)
    while True:
        idx = np.flatnonzero(keep)
        g, st, en = group[idx], start[idx], end[idx]
        conflict = np.zeros(len(idx), bool)
        conflict[1:] = (g[1:] == g[:-1]) & (st[1:] <= en[:-1] + SESSION_GAP_MS)
        if not conflict.any():
            return keep
        first = conflict.copy()
        first[1:] &= ~conflict[:-1]
        keep[idx[first]] = False


def resolve_overlaps(s: Sessions, duration_ms: np.ndarray) -> np.ndarray:
    """Keep-mask so that one browser's sessions are > 30 min apart; orders win over browsing."""
    browser = s.person * 2 + s.device
    end = s.start_ms + duration_ms
    keep = np.zeros(len(s), bool)
    conv = np.flatnonzero(s.kind == CONVERT)
    conv = conv[np.lexsort((s.key[conv], s.start_ms[conv], browser[conv]))]
    keep_c = drop_later_overlaps(browser[conv], s.start_ms[conv], end[conv])
    conv = conv[keep_c]
    keep[conv] = True
    other = np.flatnonzero(s.kind != CONVERT)
    # a browsing session touching an order session of the same browser is dropped
    big = np.int64(1) << np.int64(40)
    ckey = browser[conv] * big + s.start_ms[conv]
    corder = np.argsort(ckey, kind="stable")
    ckey, cend = ckey[corder], end[conv][corder]
    o_key_end = browser[other] * big + end[other] + SESSION_GAP_MS
    j = np.searchsorted(ckey, o_key_end, side="right") - 1
    jj = np.maximum(j, 0)
    same = (j >= 0) & (ckey[jj] // big == browser[other])
    touching = same & (cend[jj] + SESSION_GAP_MS >= s.start_ms[other])
    other = other[~touching]
    other = other[np.lexsort((s.key[other], s.start_ms[other], browser[other]))]
    keep[other[drop_later_overlaps(browser[other], s.start_ms[other], end[other])]] = True
    return keep
