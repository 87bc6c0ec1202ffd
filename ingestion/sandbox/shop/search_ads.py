"""Google Ads: the shop's search campaigns, their ad groups and daily delivery, from the paid-search
sessions the traffic model already draws (utm_source=google, utm_medium=cpc, a gclid).

Why derived from sessions: every click that loads the site is a session, so clicks = sessions plus
the clicks that never load (bounces before the tag fires); impressions follow from each campaign's
click-through rate, cost from its cost per click. Google's own conversions (data-driven, fractional,
modelled across devices) count more than first-party last-click data shows, like Meta's do.

The final URL suffix a Google Ads account sets for UTMs carries ValueTrack ids, so a session's
`utm_id` is its campaign id and `utm_content` its ad group id (Performance Max has no ad groups: none).
Numbers per day come from the day's own random stream: advancing the world never changes a past day.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingestion.sandbox.shop import tables
from ingestion.sandbox.shop.config import DAY_MS
from ingestion.sandbox.shop.rand import day_rng, uniform

CUSTOMER_ID = "5551234567"  # the Google Ads account (customer) id, 10 digits
STREAM_SEARCH = 41
URL_SUFFIX = (
    "utm_source=google&utm_medium=cpc&utm_campaign={_campaign}&utm_id={campaignid}&utm_content={adgroupid}"
)
# name (the UTM campaign the traffic model writes), channel type, bidding, CTR, CPC USD, created (days rel. start)
CAMPAIGNS = [
    ("search-brand", "SEARCH", "TARGET_IMPRESSION_SHARE", 0.14, 0.85, -400),
    ("search-nonbrand", "SEARCH", "MAXIMIZE_CONVERSIONS", 0.045, 2.10, -300),
    ("shopping-pmax", "PERFORMANCE_MAX", "MAXIMIZE_CONVERSION_VALUE", 0.018, 1.30, -120),
]
# the traffic model's split of paid-search sessions over CAMPAIGNS (channels.SEARCH_WEIGHTS: 45/30/25)
CAMPAIGN_CUTS = (0.45, 0.75)
AD_GROUPS = {
    "search-brand": ["brand-exact", "brand-phrase"],
    "search-nonbrand": ["coffee-beans", "tea-gifts", "brewing-gear"],
    "shopping-pmax": [],
}
CAMPAIGN_ID_BASE = 21_345_000_000
AD_GROUP_ID_BASE = 160_420_000_000
AD_ID_BASE = 712_330_000_000
ADS_PER_GROUP = 2  # responsive search ads per ad group, rotated by Google
PLATFORM_OVERCOUNT = 1.18  # Google's conversions / first-party orders of the same clicks


def campaign_ids() -> list[str]:
    return [str(CAMPAIGN_ID_BASE + i) for i in range(len(CAMPAIGNS))]


def ad_group_rows() -> list[tuple[str, int, str]]:
    """(ad group id, campaign index, name) of every ad group."""
    rows = []
    for ci, (name, *_rest) in enumerate(CAMPAIGNS):
        for gi, group in enumerate(AD_GROUPS[name]):
            rows.append((str(AD_GROUP_ID_BASE + 10 * ci + gi), ci, group))
    return rows


def campaign_of(u1: np.ndarray | float) -> np.ndarray:
    """The campaign index of a paid-search session from the traffic model's draw (channels.session_tags)."""
    return np.searchsorted(np.array(CAMPAIGN_CUTS), np.asarray(u1), side="right")


def ad_group_of(campaign: np.ndarray, key: np.ndarray) -> np.ndarray:
    """The ad group row (index into `ad_group_rows()`) of each session; -1 for Performance Max."""
    rows = ad_group_rows()
    out = np.full(len(campaign), -1)
    u = uniform(key, 905)
    for ci in range(len(CAMPAIGNS)):
        groups = [i for i, (_, c, _) in enumerate(rows) if c == ci]
        if groups:
            sel = campaign == ci
            out[sel] = np.array(groups)[np.minimum((u[sel] * len(groups)).astype(int), len(groups) - 1)]
    return out


def ad_rows() -> list[tuple[str, int, str]]:
    """(ad id, ad group row, name) of every responsive search ad."""
    return [
        (str(AD_ID_BASE + ADS_PER_GROUP * gi + k), gi, f"{group}-rsa-{k + 1}")
        for gi, (_, _, group) in enumerate(ad_group_rows())
        for k in range(ADS_PER_GROUP)
    ]


def ad_of(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """The ad row (index into `ad_rows()`) that served each session; -1 without an ad group."""
    pick = np.minimum((uniform(key, 906) * ADS_PER_GROUP).astype(int), ADS_PER_GROUP - 1)
    return np.where(group >= 0, ADS_PER_GROUP * group + pick, -1)


def write_google_ads(out, seed: int, days: int, start_ms, channel_is_search, keys, conv_session, o_created,
                     o_total, end_ms) -> dict[str, int]:  # fmt: skip
    """google_ads_campaigns, google_ads_ad_groups, google_ads_ads and google_ads_daily (one row per day x
    campaign x ad group x ad; ad group and ad '' for Performance Max) with final numbers; the emulator
    restates conversions."""
    counts = {}
    ids = campaign_ids()
    counts["google_ads_campaigns"] = tables.write(pa.table({
        "campaign_id": pa.array(ids, pa.string()),
        "name": pa.array([c[0] for c in CAMPAIGNS], pa.string()),
        "channel_type": pa.array([c[1] for c in CAMPAIGNS], pa.string()),
        "bidding_strategy_type": pa.array([c[2] for c in CAMPAIGNS], pa.string()),
        "start_date": tables.date(np.array([c[5] for c in CAMPAIGNS])),
    }), out / "google_ads_campaigns.parquet")  # fmt: skip
    groups = ad_group_rows()
    counts["google_ads_ad_groups"] = tables.write(pa.table({
        "ad_group_id": pa.array([g[0] for g in groups], pa.string()),
        "campaign_id": pa.array([ids[g[1]] for g in groups], pa.string()),
        "name": pa.array([g[2] for g in groups], pa.string()),
    }), out / "google_ads_ad_groups.parquet")  # fmt: skip
    ads = ad_rows()
    counts["google_ads_ads"] = tables.write(pa.table({
        "ad_id": pa.array([a[0] for a in ads], pa.string()),
        "ad_group_id": pa.array([groups[a[1]][0] for a in ads], pa.string()),
        "campaign_id": pa.array([ids[groups[a[1]][1]] for a in ads], pa.string()),
        "name": pa.array([a[2] for a in ads], pa.string()),
    }), out / "google_ads_ads.parquet")  # fmt: skip

    # cells: campaign x ad group x ad (Performance Max: one cell without ad group or ad)
    cells = [(groups[gi][1], gi, ai) for ai, (_, gi, _) in enumerate(ads)] + [
        (ci, -1, -1) for ci, c in enumerate(CAMPAIGNS) if not AD_GROUPS[c[0]]
    ]
    cell_index = {cell: i for i, cell in enumerate(cells)}
    n = len(cells)
    search = np.flatnonzero(channel_is_search & (start_ms < end_ms))
    camp = campaign_of(uniform(keys[search], 901))
    group = ad_group_of(camp, keys[search])
    ad = ad_of(group, keys[search])
    cell_of = np.array([cell_index[(int(c), int(g), int(a))] for c, g, a in
                        zip(camp.tolist(), group.tolist(), ad.tolist(), strict=True)], dtype=np.int64)  # fmt: skip
    day = start_ms[search] // DAY_MS
    sessions = np.bincount(day * n + cell_of, minlength=days * n).reshape(days, n)
    cell_by_session = np.full(len(start_ms), -1)
    cell_by_session[search] = cell_of
    ordered = (cell_by_session[conv_session] >= 0) & (o_created < end_ms)
    oc = conv_session[ordered]
    ocell = (start_ms[oc] // DAY_MS) * n + cell_by_session[oc]
    n_orders = np.bincount(ocell, minlength=days * n).reshape(days, n)
    revenue = np.bincount(ocell, weights=o_total[ordered] / 100.0, minlength=days * n).reshape(days, n)

    ctr = np.array([CAMPAIGNS[ci][3] for ci, _, _ in cells])
    cpc = np.array([CAMPAIGNS[ci][4] for ci, _, _ in cells])
    cols: dict[str, list] = {k: [] for k in ("day", "cell", "impressions", "clicks", "cost_micros", "conversions",
                                            "conversions_value")}  # fmt: skip
    for d in range(days):
        rng = day_rng(seed, d, STREAM_SEARCH)
        clicks = sessions[d] + rng.poisson(0.12 * sessions[d] + 0.2)
        impressions = np.round(clicks / (ctr * np.exp(0.15 * rng.standard_normal(n)))).astype(np.int64)
        cost = (
            np.round(clicks * cpc * np.exp(0.12 * rng.standard_normal(n)) * 1e6 / 10_000).astype(np.int64)
            * 10_000
        )
        modelled = rng.gamma(2.0, 0.5 * (PLATFORM_OVERCOUNT - 1.0) * np.maximum(n_orders[d], 0.2))
        conversions = np.round(n_orders[d] + modelled, 2)
        # value per conversion: the first-party orders' average where there are some, else a typical order
        per_conversion = np.where(n_orders[d] > 0, revenue[d] / np.maximum(n_orders[d], 1), 52.0)
        value = np.round(conversions * per_conversion, 2)
        live = np.flatnonzero(impressions > 0)
        cols["day"].append(np.full(len(live), d))
        cols["cell"].append(live)
        cols["impressions"].append(np.maximum(impressions[live], clicks[live]))
        cols["clicks"].append(clicks[live].astype(np.int64))
        cols["cost_micros"].append(cost[live])
        cols["conversions"].append(conversions[live])
        cols["conversions_value"].append(value[live])
    flat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    cell = flat["cell"].astype(np.int64)
    counts["google_ads_daily"] = tables.write(pa.table({
        "date": tables.date(flat["day"].astype(np.int64)),
        "campaign_id": pa.array([ids[cells[c][0]] for c in cell.tolist()], pa.string()),
        "ad_group_id": pa.array([groups[cells[c][1]][0] if cells[c][1] >= 0 else "" for c in cell.tolist()],
                                pa.string()),  # fmt: skip
        "ad_id": pa.array([ads[cells[c][2]][0] if cells[c][2] >= 0 else "" for c in cell.tolist()], pa.string()),
        "impressions": pa.array(flat["impressions"].astype(np.int64), pa.int64()),
        "clicks": pa.array(flat["clicks"].astype(np.int64), pa.int64()),
        "cost_micros": pa.array(flat["cost_micros"].astype(np.int64), pa.int64()),
        "conversions": pa.array(flat["conversions"], pa.float64()),
        "conversions_value": pa.array(flat["conversions_value"], pa.float64()),
    }), out / "google_ads_daily.parquet")  # fmt: skip
    return counts
