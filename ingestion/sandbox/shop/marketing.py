"""Meta campaigns, ad sets, ads, their daily spend and the platform's (over-counting) insights.

Why a fixed campaign calendar: campaigns, ad sets and ads exist independently of how many days are
generated (a campaign is written once its `created_time` is before `end_date`), and daily spend is drawn
from the day's own random stream, so spend for day d never changes when the world is advanced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.sandbox.shop import seasonality
from ingestion.sandbox.shop.config import DAY_MS, START_DATE, SizeConfig
from ingestion.sandbox.shop.rand import day_rng, normal, uniform

URL_TAGS = (
    "utm_source=facebook&utm_medium=paid_social&utm_campaign={{campaign.name}}"
    "&utm_id={{campaign.id}}&utm_content={{ad.id}}"
)
STREAM_SPEND, STREAM_INSIGHTS = 31, 32
CALENDAR_YEARS = 6
# name, objective, first day (relative to start) or (month, day) each year, duration days, budget USD/day
EVERGREEN = [
    ("prospecting-broad", "OUTCOME_SALES", -210, None, 140.0),
    ("retargeting-dpa", "OUTCOME_SALES", -150, None, 60.0),
    ("prospecting-lookalike", "OUTCOME_SALES", 75, None, 80.0),
]
SEASONAL = [
    ("bfcm", "OUTCOME_SALES", (11, 12), 22, 260.0),
    ("holiday-gifting", "OUTCOME_SALES", (12, 3), 18, 170.0),
    ("new-year-reset", "OUTCOME_TRAFFIC", (1, 2), 28, 70.0),
    ("spring-launch", "OUTCOME_SALES", (3, 10), 35, 90.0),
    ("summer-sale", "OUTCOME_SALES", (7, 1), 24, 110.0),
]
ADSET_AUDIENCES = [
    "Broad US 25-54", "Lookalike 1% purchasers", "Interest: coffee & tea", "Interest: wellness",
    "Website visitors 30d", "Cart abandoners 14d",
]  # fmt: skip
# Seasonal pushes the team tidies up some weeks after they end, as advertisers do: archived (still
# listed with an `effective_status` filter, stats kept) or deleted (hidden from edges and from
# `level=ad` account insights unless asked for). Their spend stays in the account's history, which is
# what a connector that reads only live objects gets wrong. Keyed by the seasonal template's name.
RETIRED = {"holiday-gifting": "ARCHIVED", "new-year-reset": "DELETED"}
RETIRED_AFTER_DAYS = 21
CAMPAIGN_ID_BASE = 120_210_000_000_000_000
ADSET_ID_BASE = 120_210_000_100_000_000
AD_ID_BASE = 120_210_000_200_000_000


@dataclass
class Meta:
    """The campaign calendar (all years) and per-ad arrays; days relative to START_DATE."""

    campaign_id: list[str]
    campaign_name: list[str]
    objective: list[str]
    campaign_start: np.ndarray
    campaign_stop: np.ndarray  # exclusive; large for evergreen
    budget: np.ndarray
    adset_id: list[str]
    adset_campaign: np.ndarray
    adset_name: list[str]
    ad_id: list[str]
    ad_adset: np.ndarray
    ad_campaign: np.ndarray
    ad_name: list[str]
    ad_weight: np.ndarray
    ad_cpm: np.ndarray


def build_meta(cfg: SizeConfig, seed: int) -> Meta:
    """Evergreen prospecting/retargeting plus yearly seasonal pushes, 2 ad sets each, N ads per set."""
    names, objectives, starts, stops, budgets = [], [], [], [], []
    for name, objective, first, _, budget in EVERGREEN:
        names.append(name)
        objectives.append(objective)
        starts.append(first)
        stops.append(10**6)
        budgets.append(budget)
    year0 = int(str(START_DATE)[:4])
    for year in range(year0, year0 + CALENDAR_YEARS):
        for name, objective, (month, day), duration, budget in SEASONAL:
            start = int((np.datetime64(f"{year}-{month:02d}-{day:02d}") - START_DATE).astype(int))
            if start < -60:
                continue
            names.append(f"{name}-{year}")
            objectives.append(objective)
            starts.append(start)
            stops.append(start + duration)
            budgets.append(budget)
    order = np.argsort(np.array(starts), kind="stable")
    names = [names[i] for i in order]
    objectives = [objectives[i] for i in order]
    starts_a = np.array(starts)[order]
    stops_a = np.array(stops)[order]
    scale = cfg.buyers / 5000.0
    budget_a = np.round(np.array(budgets)[order] * scale, 0)
    n_c = len(names)
    campaign_id = [str(CAMPAIGN_ID_BASE + 1000 * i) for i in range(n_c)]

    adset_campaign = np.repeat(np.arange(n_c), 2)
    adset_name = [
        f"{names[c]} | {ADSET_AUDIENCES[int(uniform(seed, c, j, 301)[()] * len(ADSET_AUDIENCES))]}"
        for c, j in zip(adset_campaign.tolist(), [0, 1] * n_c, strict=True)
    ]
    adset_id = [str(ADSET_ID_BASE + 1000 * i) for i in range(len(adset_campaign))]
    ad_adset = np.repeat(np.arange(len(adset_campaign)), cfg.ads_per_adset)
    ad_campaign = adset_campaign[ad_adset]
    formats = ["video", "carousel", "static", "ugc"]
    ad_name = [
        f"{names[c]} - {formats[(a + c) % 4]} {a % cfg.ads_per_adset + 1}"
        for a, c in enumerate(ad_campaign.tolist())
    ]
    ad_id = [str(AD_ID_BASE + 1000 * i) for i in range(len(ad_adset))]
    ad_idx = np.arange(len(ad_adset))
    return Meta(
        campaign_id=campaign_id, campaign_name=names, objective=objectives, campaign_start=starts_a,
        campaign_stop=stops_a, budget=budget_a, adset_id=adset_id, adset_campaign=adset_campaign,
        adset_name=adset_name, ad_id=ad_id, ad_adset=ad_adset, ad_campaign=ad_campaign, ad_name=ad_name,
        ad_weight=np.exp(0.8 * normal(seed, ad_idx, 302)), ad_cpm=9.0 * np.exp(0.3 * normal(seed, ad_idx, 303)),
    )  # fmt: skip


def campaign_statuses(meta: Meta, days: int) -> tuple[list[str], np.ndarray]:
    """Each campaign's `status` on the last generated day and the day (relative to START_DATE) it last
    changed: ACTIVE while running, PAUSED once stopped, ARCHIVED/DELETED (see `RETIRED`) from
    `RETIRED_AFTER_DAYS` after the stop. Ad sets and ads inherit an archived or deleted campaign's status."""
    statuses, changed = [], []
    for name, start, stop in zip(
        meta.campaign_name, meta.campaign_start.tolist(), meta.campaign_stop.tolist(), strict=True
    ):
        retired = RETIRED.get(name.rsplit("-", 1)[0]) if name[-4:].isdigit() else None
        if retired and stop + RETIRED_AFTER_DAYS <= days:
            statuses.append(retired)
            changed.append(stop + RETIRED_AFTER_DAYS)
        elif stop <= days:
            statuses.append("PAUSED")
            changed.append(stop)
        else:
            statuses.append("ACTIVE")
            changed.append(start - 3)
    return statuses, np.array(changed, dtype=np.int64)


def daily_spend(meta: Meta, seed: int, days: np.ndarray) -> np.ndarray:
    """Spend in USD, shape (len(days), n_ads): campaign budget paced by demand, split over its ads."""
    n_ads = len(meta.ad_id)
    out = np.zeros((len(days), n_ads))
    for i, d in enumerate(days.tolist()):
        noise = np.exp(0.18 * day_rng(seed, d, STREAM_SPEND).standard_normal(n_ads))
        camp = meta.ad_campaign
        active = (meta.campaign_start[camp] <= d) & (d < meta.campaign_stop[camp])
        if not active.any():
            continue
        pace = seasonality.demand(np.array([d]), 0.6)[0]
        w = meta.ad_weight * active
        share = w / np.bincount(camp, weights=w, minlength=len(meta.campaign_id))[camp].clip(1e-9)
        out[i] = np.round(meta.budget[camp] * pace * share * noise * active, 2)
    return out


def insights(
    meta: Meta,
    seed: int,
    days: np.ndarray,
    spend: np.ndarray,
    sessions: np.ndarray,
    atc: np.ndarray,
    orders: np.ndarray,
    revenue: np.ndarray,
) -> dict[str, np.ndarray]:
    """Final per day x ad numbers; `sessions/atc/orders/revenue` are first-party per (day, ad) arrays.

    Meta counts clicks that never load the page, and attributes purchases it merely saw (1-day view,
    7-day click, cross-device), so its purchases over-count what first-party last-click data shows.
    """
    cols: dict[str, list] = {k: [] for k in ("day", "ad", "spend", "impressions", "clicks", "reach",
                                            "purchases", "purchase_value", "add_to_carts", "landing_page_views")}  # fmt: skip
    n_ads = len(meta.ad_id)
    for i, d in enumerate(days.tolist()):
        rng = day_rng(seed, d, STREAM_INSIGHTS)
        extra_clicks = rng.poisson(0.3 * sessions[i] + 0.5)
        freq = 1.2 + 0.9 * rng.random(n_ads)
        view_through = rng.poisson(0.45 * orders[i] + spend[i] / 900.0)
        extra_atc = rng.poisson(0.3 * atc[i] + spend[i] / 400.0)
        lpv_loss = rng.binomial(sessions[i], 0.06)
        aov = 55.0 * np.exp(0.2 * rng.standard_normal(n_ads))
        live = np.flatnonzero(spend[i] > 0)
        clicks = sessions[i] + extra_clicks
        impressions = np.maximum(np.round(spend[i] / meta.ad_cpm * 1000.0), clicks * 25)
        cols["day"].append(np.full(len(live), d))
        cols["ad"].append(live)
        cols["spend"].append(spend[i][live])
        cols["impressions"].append(impressions[live].astype(np.int64))
        cols["clicks"].append(clicks[live].astype(np.int64))
        cols["reach"].append(np.round(impressions[live] / freq[live]).astype(np.int64))
        cols["purchases"].append((orders[i] + view_through)[live].astype(np.int64))
        cols["purchase_value"].append(np.round(revenue[i] + view_through * aov, 2)[live])
        cols["add_to_carts"].append((atc[i] + extra_atc)[live].astype(np.int64))
        cols["landing_page_views"].append((sessions[i] - lpv_loss)[live].astype(np.int64))
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}


def day_ms_of(day: int) -> int:
    """Start of a day in ms since START_DATE (for created/updated times)."""
    return day * DAY_MS
