"""The product catalog: categories, prices, consumables and co-purchase affinity groups.

Why affinity groups: recommendations (and "bought together" analyses) need structure to find; a customer
belongs to one group and mostly views and buys within it, and consumables (`repeatable`) in a group are
what loyal customers come back for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.sandbox.shop.config import DAY_MS, SizeConfig
from ingestion.sandbox.shop.rand import choice, normal, uniform

PRODUCT_ID_BASE = 8_100_000_000_000
VARIANT_ID_BASE = 44_200_000_000_000

# group -> [(category, repeatable, base price, nouns)]
GROUPS: dict[str, list[tuple[str, bool, float, list[str]]]] = {
    "coffee_ritual": [
        (
            "Coffee",
            True,
            18.0,
            ["Espresso Roast", "Breakfast Blend", "Colombia Huila", "Ethiopia Guji", "Decaf Swiss Water"],
        ),
        ("Brewing", False, 45.0, ["Pour-Over Dripper", "Burr Grinder", "French Press", "Gooseneck Kettle"]),
        ("Brewing Supplies", True, 9.0, ["Paper Filters", "Descaler"]),
        ("Drinkware", False, 24.0, ["Ceramic Mug", "Travel Tumbler", "Glass Carafe"]),
    ],
    "tea_time": [
        ("Tea", True, 14.0, ["Sencha", "Earl Grey", "Chamomile", "Masala Chai", "Oolong"]),
        ("Teaware", False, 32.0, ["Cast Iron Teapot", "Tea Infuser", "Matcha Whisk Set"]),
        ("Sweets", True, 8.0, ["Honey Sticks", "Shortbread Tin"]),
    ],
    "self_care": [
        ("Skincare", True, 28.0, ["Face Serum", "Night Cream", "Cleansing Balm", "Lip Balm"]),
        ("Candles", True, 22.0, ["Soy Candle Cedar", "Soy Candle Fig", "Wax Melts"]),
        ("Bath", True, 16.0, ["Bath Salts", "Body Oil"]),
        ("Home", False, 38.0, ["Linen Throw", "Ceramic Diffuser"]),
    ],
    "active": [
        (
            "Supplements",
            True,
            34.0,
            ["Protein Powder", "Electrolyte Mix", "Collagen Peptides", "Greens Blend"],
        ),
        ("Apparel", False, 42.0, ["Training Tee", "Running Shorts", "Hoodie", "Crew Socks"]),
        ("Gear", False, 29.0, ["Shaker Bottle", "Yoga Mat", "Resistance Bands"]),
    ],
}
GROUP_NAMES = list(GROUPS)
VARIANT_NAMES = {
    "Coffee": ["12 oz", "2 lb"], "Tea": ["50 g", "200 g"], "Apparel": ["S", "M", "L", "XL"],
    "Supplements": ["30 servings", "60 servings"], "Candles": ["8 oz", "14 oz"],
}  # fmt: skip
EDITIONS = ["", "Classic", "Signature", "Reserve", "Travel", "Studio", "Limited", "Mini", "Pro", "Organic"]


@dataclass
class Catalog:
    """Columnar catalog; index i of every array is one product."""

    product_id: np.ndarray
    title: list[str]
    handle: list[str]
    category: list[str]
    group: np.ndarray  # int index into GROUP_NAMES
    price_cents: np.ndarray
    repeatable: np.ndarray
    popularity: np.ndarray
    created_ms: np.ndarray  # relative to START_DATE; < 0 for products that predate the world
    updated_ms: np.ndarray
    variant_product: np.ndarray  # per variant: product index
    variant_id: np.ndarray
    variant_title: list[str]
    variant_sku: list[str]
    variant_price_cents: np.ndarray
    variant_cost_cents: np.ndarray  # what the shop pays per unit (Shopify's inventory item `unitCost`)

    def __len__(self) -> int:
        return len(self.product_id)


def build_catalog(cfg: SizeConfig, seed: int) -> Catalog:
    """Products spread over the affinity groups; ~15 % launch during the simulated period."""
    templates = [(g, *t) for g, items in GROUPS.items() for t in items]
    n = cfg.products
    idx = np.arange(n)
    # Round-robin over (group, category) templates so every size has every category.
    tpl = idx % len(templates)
    titles, handles, cats, groups, repeat, base = [], [], [], [], [], []
    for i, t in zip(idx.tolist(), tpl.tolist(), strict=True):
        group, category, repeatable, price, nouns = templates[t]
        cycle = i // len(templates)
        noun = nouns[(i // len(templates) + t) % len(nouns)]
        edition = EDITIONS[(cycle // len(nouns) + i) % len(EDITIONS)] if cycle else ""
        title = f"{edition} {noun}".strip() if cycle < len(nouns) else f"{noun} No. {cycle}"
        titles.append(title)
        handles.append(title.lower().replace(" ", "-").replace(".", "") + f"-{i + 1}")
        cats.append(category)
        groups.append(GROUP_NAMES.index(group))
        repeat.append(repeatable)
        base.append(price)
    base_price = np.array(base) * np.exp(0.25 * normal(seed, idx, 101))
    price_cents = (np.round(base_price) * 100 - 1).astype(np.int64)  # $xx.99
    popularity = np.exp(1.1 * normal(seed, idx, 102))  # log-normal long tail of bestsellers
    launch = uniform(seed, idx, 103)
    created_days = np.where(
        launch < 0.85, -400 + 380 * uniform(seed, idx, 104), 20 + 640 * uniform(seed, idx, 105)
    )
    created_ms = (created_days * DAY_MS).astype(np.int64)
    updated_ms = created_ms + (uniform(seed, idx, 106) * 90 * DAY_MS).astype(np.int64)

    v_prod, v_title = [], []
    for i, c in enumerate(cats):
        names = VARIANT_NAMES.get(c, ["Default Title"])
        k = 1 if len(names) == 1 else 1 + int(uniform(seed, i, 107) * len(names))
        for name in names[:k]:
            v_prod.append(i)
            v_title.append(name)
    v_prod_arr = np.array(v_prod)
    v_rank = np.concatenate([[0], (np.diff(v_prod_arr) == 0).astype(int)])
    v_pos = np.zeros(len(v_prod_arr), dtype=np.int64)
    for j in range(1, len(v_prod_arr)):
        v_pos[j] = v_pos[j - 1] + 1 if v_rank[j] else 0
    v_price = price_cents[v_prod_arr] + v_pos * (price_cents[v_prod_arr] // 200) * 100
    # unit cost: 25-45 % of the price per product (a DTC brand's usual landed cost), drawn from a stream
    # of its own so adding it changed no other draw
    cost_share = 0.25 + 0.20 * uniform(seed, idx, 108)
    v_cost = np.round(v_price * cost_share[v_prod_arr]).astype(np.int64)
    skus = [
        f"SKU-{handles[p][:12].upper().rstrip('-')}-{k}" for p, k in zip(v_prod, v_pos.tolist(), strict=True)
    ]
    return Catalog(
        product_id=PRODUCT_ID_BASE + idx,
        title=titles,
        handle=handles,
        category=cats,
        group=np.array(groups),
        price_cents=price_cents,
        repeatable=np.array(repeat),
        popularity=popularity,
        created_ms=created_ms,
        updated_ms=updated_ms,
        variant_product=v_prod_arr,
        variant_id=VARIANT_ID_BASE + np.arange(len(v_prod_arr)),
        variant_title=v_title,
        variant_sku=skus,
        variant_price_cents=v_price.astype(np.int64),
        variant_cost_cents=v_cost,
    )


def pick_products(
    cat: Catalog,
    group: np.ndarray,
    at_ms: np.ndarray,
    u_in: np.ndarray,
    u_pick: np.ndarray,
    prefer_repeatable: np.ndarray | None = None,
) -> np.ndarray:
    """One product per draw: from the shopper's affinity group (80 %) else anywhere, popularity-weighted.

    Products not yet launched at `at_ms` are replaced by the group's most popular launched product, so a
    product is never viewed or sold before it exists. `prefer_repeatable` boosts consumables (re-buys).
    """
    n_groups = len(GROUP_NAMES)
    out = np.empty(len(group), dtype=np.int64)
    inside = u_in < 0.8
    weights_any = cat.popularity
    for g in range(n_groups + 1):
        mask = (group == g) & inside if g < n_groups else ~inside
        if not mask.any():
            continue
        base = weights_any * (cat.group == g) if g < n_groups else weights_any
        if prefer_repeatable is None:
            out[mask] = choice(base, u_pick[mask])
        else:
            boosted = base * np.where(cat.repeatable, 6.0, 1.0)
            rep = mask & prefer_repeatable
            plain = mask & ~prefer_repeatable
            if rep.any():
                out[rep] = choice(boosted, u_pick[rep])
            if plain.any():
                out[plain] = choice(base, u_pick[plain])
    late = cat.created_ms[out] > at_ms
    if late.any():
        fallback = np.empty(n_groups, dtype=np.int64)
        for g in range(n_groups):
            ok = (cat.group == g) & (cat.created_ms < 0)
            fallback[g] = int(np.argmax(np.where(ok, cat.popularity, -1.0)))
        out[late] = fallback[cat.group[out[late]]]
    return out
