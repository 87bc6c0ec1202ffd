"""People: buyers (who become Shopify customers) and anonymous visitors (who never buy).

Why a Pareto/NBD-like process: each buyer has a Poisson purchase rate drawn from a Gamma (by segment)
and an exponential lifetime; after `true churn` they never order again. Churn, repeat purchases and LTV
are then learnable from the orders and have an exact ground truth (truth/customers_truth.parquet).
All attributes are hashes of (seed, person key), so they never depend on how many days are generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.sandbox.shop import seasonality
from ingestion.sandbox.shop.catalog import GROUP_NAMES
from ingestion.sandbox.shop.config import DAY_MS, SizeConfig
from ingestion.sandbox.shop.rand import choice, day_rng, exponential, gamma, uniform

SEGMENTS = ["one_time", "occasional", "loyal", "vip"]
SEGMENT_SHARE = np.array([0.38, 0.40, 0.17, 0.05])
SEGMENT_RATE_PER_DAY = np.array([1 / 260, 1 / 95, 1 / 38, 1 / 15])  # mean repeat purchase rate
SEGMENT_LIFETIME_DAYS = np.array([40.0, 280.0, 650.0, 1100.0])  # mean lifetime after first order
SEGMENT_BASKET = np.array([1.0, 1.0, 1.15, 1.6])
DEVICES = ["desktop", "mobile", "tablet"]
BUYER_DEVICE_MIX = np.array([0.40, 0.52, 0.08])
VISITOR_DEVICE_MIX = np.array([0.26, 0.67, 0.07])
BLOCKED_SHARE = 0.12
BUYER, VISITOR = 1, 2
STREAM_BUYER_ARRIVALS, STREAM_VISITOR_ARRIVALS = 11, 12

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas", "Mia",
    "Mateo", "Amelia", "Ethan", "Harper", "Levi", "Evelyn", "Aiden", "Abigail", "Leo", "Emily", "Jack",
    "Ella", "Owen", "Grace", "Ravi", "Priya", "Chen", "Mei", "Diego", "Lucia", "Kofi", "Amara", "Yuki",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Patel",
    "Nguyen", "Kim", "Okafor", "Schmidt", "Rossi",
]  # fmt: skip
CITIES = [  # (country, city, ISO 3166-2 subdivision code without the country prefix)
    ("US", "New York", "NY"), ("US", "Los Angeles", "CA"), ("US", "Chicago", "IL"), ("US", "Houston", "TX"),
    ("US", "Phoenix", "AZ"), ("US", "Seattle", "WA"), ("US", "Denver", "CO"), ("US", "Austin", "TX"),
    ("US", "Portland", "OR"), ("US", "Atlanta", "GA"), ("US", "Boston", "MA"), ("US", "Miami", "FL"),
    ("US", "Minneapolis", "MN"), ("US", "San Diego", "CA"), ("CA", "Toronto", "ON"), ("CA", "Vancouver", "BC"),
    ("GB", "London", "ENG"), ("GB", "Manchester", "ENG"), ("AU", "Sydney", "NSW"), ("AU", "Melbourne", "VIC"),
]  # fmt: skip
CITY_WEIGHTS = np.array([9, 8, 6, 5, 4, 5, 4, 5, 4, 4, 4, 4, 3, 3, 4, 3, 4, 2, 2, 2], dtype=float)


@dataclass
class People:
    """Columnar people; buyers first, then visitors. Times are ms since START_DATE."""

    key: np.ndarray  # uint64-safe int64 person key (type, arrival day, index)
    is_buyer: np.ndarray
    arrival_ms: np.ndarray  # buyers: first order session start; visitors: first session start
    n_devices: np.ndarray
    device_type: np.ndarray  # (n, 2) index into DEVICES
    blocked: np.ndarray  # (n, 2) tracker blocked on that device's browser
    group: np.ndarray  # affinity group
    pref_channel: np.ndarray
    # buyers only (visitors: segment -1, rate 0, lifetime 0)
    segment: np.ndarray
    rate_per_day: np.ndarray
    churn_ms: np.ndarray  # arrival + lifetime
    accepts_marketing: np.ndarray
    basket: np.ndarray

    def __len__(self) -> int:
        return len(self.key)


def _arrivals(seed: int, stream: int, kind: int, per_day: float, n_days: int, strength: float):
    days = np.arange(n_days)
    mult = seasonality.demand(days, strength) * (1.0 + 0.25 * days / 365.0)  # a growing brand
    counts = np.array(
        [day_rng(seed, d, stream).poisson(per_day * m) for d, m in zip(days, mult, strict=True)]
    )
    day = np.repeat(days, counts)
    j = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    key = (np.int64(kind) << 40) | (day.astype(np.int64) << 20) | j.astype(np.int64)
    return key, day


def _rate_normaliser(cfg: SizeConfig, strength: float) -> float:
    """Arrivals per unit of demand so that ~target people arrive over the size's default days."""
    days = np.arange(cfg.days)
    return float((seasonality.demand(days, strength) * (1.0 + 0.25 * days / 365.0)).sum())


def build_people(cfg: SizeConfig, seed: int, buyer_days: int, visitor_days: int) -> People:
    """Buyers arriving on days [0, buyer_days) and visitors on [0, visitor_days)."""
    from ingestion.sandbox.shop.traffic import ACQUISITION_MIX, VISITOR_MIX

    b_key, b_day = _arrivals(
        seed, STREAM_BUYER_ARRIVALS, BUYER, cfg.buyers / _rate_normaliser(cfg, 1.0), buyer_days, 1.0
    )
    v_key, v_day = _arrivals(
        seed, STREAM_VISITOR_ARRIVALS, VISITOR, cfg.visitors / _rate_normaliser(cfg, 0.6), visitor_days, 0.6
    )
    key = np.concatenate([b_key, v_key])
    day = np.concatenate([b_day, v_day])
    is_buyer = np.concatenate([np.ones(len(b_key), bool), np.zeros(len(v_key), bool)])
    tod = seasonality.time_of_day_ms(uniform(seed, key, 201), uniform(seed, key, 202))
    arrival_ms = day.astype(np.int64) * DAY_MS + tod

    n_devices = 1 + (uniform(seed, key, 203) < np.where(is_buyer, 0.4, 0.15)).astype(np.int64)
    primary = np.where(
        is_buyer,
        choice(BUYER_DEVICE_MIX, uniform(seed, key, 204)),
        choice(VISITOR_DEVICE_MIX, uniform(seed, key, 204)),
    )
    # second device: a phone owner's laptop (or tablet), a laptop owner's phone
    second = np.where(primary == 1, np.where(uniform(seed, key, 205) < 0.8, 0, 2), 1)
    device_type = np.stack([primary, second], axis=1)
    blocked = np.stack(
        [uniform(seed, key, 206) < BLOCKED_SHARE, uniform(seed, key, 207) < BLOCKED_SHARE], axis=1
    )
    group = choice(np.array([0.34, 0.2, 0.26, 0.2]), uniform(seed, key, 208))
    assert len(GROUP_NAMES) == 4
    pref_channel = np.where(
        is_buyer,
        choice(ACQUISITION_MIX, uniform(seed, key, 209)),
        choice(VISITOR_MIX, uniform(seed, key, 209)),
    )

    segment = np.where(is_buyer, choice(SEGMENT_SHARE, uniform(seed, key, 210)), -1)
    seg = np.maximum(segment, 0)
    rate = gamma(2.0, SEGMENT_RATE_PER_DAY[seg] / 2.0, seed, key, 211) * is_buyer
    lifetime_days = exponential(SEGMENT_LIFETIME_DAYS[seg], seed, key, 212)
    churn_ms = arrival_ms + np.where(is_buyer, (lifetime_days * DAY_MS).astype(np.int64), 0)
    # the churn date is at least the day after the first order (the first order is never "after churn")
    churn_ms = np.where(is_buyer, np.maximum(churn_ms, (arrival_ms // DAY_MS + 1) * DAY_MS), churn_ms)
    accepts = (uniform(seed, key, 213) < 0.62) & is_buyer
    basket = SEGMENT_BASKET[seg] * np.exp(0.2 * (uniform(seed, key, 214) - 0.5))
    return People(
        key=key, is_buyer=is_buyer, arrival_ms=arrival_ms, n_devices=n_devices, device_type=device_type,
        blocked=blocked, group=group, pref_channel=pref_channel, segment=segment, rate_per_day=rate,
        churn_ms=churn_ms, accepts_marketing=accepts, basket=basket,
    )  # fmt: skip


def poisson_times(
    seed: int,
    key: np.ndarray,
    rate_per_day: np.ndarray,
    start_ms: np.ndarray,
    stop_ms: np.ndarray,
    stream: int,
    strength: float,
    cap: int = 2000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seasonal Poisson process times per person on (start, stop): thinning of a homogeneous process.

    Candidate k of person p is a pure hash of (seed, key, stream, k), so truncating `stop` earlier (fewer
    days) only removes the tail. Returns (person index, candidate number, time ms), sorted by person.
    """
    smax = seasonality.demand_max(strength)
    active = np.flatnonzero((rate_per_day > 0) & (stop_ms > start_ms))
    t = start_ms[active].astype(np.float64)
    lam = rate_per_day[active] * smax / DAY_MS
    out_p, out_k, out_t = [], [], []
    for k in range(cap):
        if len(active) == 0:
            break
        t = t + exponential(1.0, seed, key[active], stream, k) / lam
        alive = t < stop_ms[active]
        active, t, lam = active[alive], t[alive], lam[alive]
        tm = np.floor(t).astype(np.int64)
        accept = uniform(seed, key[active], stream + 1, k) < seasonality.demand(tm // DAY_MS, strength) / smax
        out_p.append(active[accept])
        out_k.append(np.full(int(accept.sum()), k, dtype=np.int64))
        out_t.append(tm[accept])
    if not out_p:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    p, kk, tt = np.concatenate(out_p), np.concatenate(out_k), np.concatenate(out_t)
    order = np.lexsort((kk, p))
    return p[order], kk[order], tt[order]


def person_strings(seed: int, key: np.ndarray) -> dict[str, list]:
    """Names, email, phone, city of people (only called for buyers that became customers)."""
    fi = choice(np.ones(len(FIRST_NAMES)), uniform(seed, key, 221))
    li = choice(np.ones(len(LAST_NAMES)), uniform(seed, key, 222))
    ci = choice(CITY_WEIGHTS, uniform(seed, key, 223))
    num = (uniform(seed, key, 224) * 1000).astype(int)
    has_phone = uniform(seed, key, 225) < 0.55
    phone_num = (uniform(seed, key, 226) * 10_000_000).astype(int)
    first = [FIRST_NAMES[i] for i in fi.tolist()]
    last = [LAST_NAMES[i] for i in li.tolist()]
    domains = ["example.com", "mail.example", "inbox.example"]
    dom = (uniform(seed, key, 227) * 3).astype(int)
    email = [
        f"{f.lower()}.{ln.lower()}{n}@{domains[d]}"
        for f, ln, n, d in zip(first, last, num.tolist(), dom.tolist(), strict=True)
    ]
    phone = [
        f"+1555{p:07d}" if h else None for p, h in zip(phone_num.tolist(), has_phone.tolist(), strict=True)
    ]
    return {
        "first_name": first, "last_name": last, "email": email, "phone": phone,
        "city": [CITIES[i][1] for i in ci.tolist()], "country_code": [CITIES[i][0] for i in ci.tolist()],
        "province_code": [CITIES[i][2] for i in ci.tolist()],
    }  # fmt: skip
