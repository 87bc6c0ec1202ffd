"""What each channel looks like on the landing URL: UTMs, click ids, referrers, landing pages.

Why spelled out here: downstream channel grouping (dbt seeds/channel_rules.csv) must recover the channel
from exactly these strings, the way it would from a real tracker: tagged URLs (paid social with Meta's
utm_id / utm_content = campaign / ad id and fbclid; paid search with gclid; email; display; affiliates)
and untagged visits told apart by referrer (search engines, social sites, other sites) or none (direct).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.sandbox.shop import search_ads, seasonality
from ingestion.sandbox.shop.rand import hash64, uniform
from ingestion.sandbox.shop.traffic import (
    AFFILIATE,
    DIRECT,
    DISPLAY,
    EMAIL,
    ORGANIC_SEARCH,
    ORGANIC_SOCIAL,
    PAID_SEARCH,
    PAID_SOCIAL,
    REFERRAL,
)  # fmt: skip

SEARCH_CAMPAIGNS = [campaign[0] for campaign in search_ads.CAMPAIGNS]
SEARCH_WEIGHTS = np.array([0.45, 0.3, 0.25])
EMAIL_FLOWS = ["flow-welcome", "flow-replenishment", "flow-winback", "flow-abandoned-cart"]
REFERRAL_SITES = [("https://www.wirecutter.example/reviews/best-gifts/", "wirecutter.example"),
                  ("https://www.reddit.com/", "reddit.com"), ("https://blog.slowmornings.example/", "blog.slowmornings.example"),
                  ("https://news.ycombinator.com/", "news.ycombinator.com")]  # fmt: skip
AFFILIATES = [("rakuten", "https://www.rakuten.com/"), ("shareasale", "https://www.shareasale.com/"),
              ("honeybrew-blog", "https://honeybrew.example/")]  # fmt: skip
LANDINGS = [("/", "Shop Example"), ("/collections/all", "All products"), ("/collections/bestsellers", "Bestsellers"),
            ("/collections/new", "New arrivals"), ("/collections/gifts", "Gifts")]  # fmt: skip
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _token(h: int, length: int) -> str:
    out = []
    x = h
    for i in range(length):
        if i % 10 == 0:
            x = (x * 6364136223846793005 + 1442695040888963407 + i) & 0xFFFFFFFFFFFFFFFF
        out.append(B64[(x >> (6 * (i % 10))) & 63])
    return "".join(out)


@dataclass
class Tags:
    """Per-session source fields (lists, None = absent)."""

    source: list
    medium: list
    campaign: list
    utm_id: list
    utm_content: list
    fbclid: list
    gclid: list
    referrer: list
    landing_path: list
    landing_title: list
    query: list
    ga_source: list
    ga_medium: list
    ga_campaign: list


def session_tags(channel: np.ndarray, key: np.ndarray, start_ms: np.ndarray, ad: np.ndarray, meta) -> Tags:
    """Source fields of every session; `ad` is the Meta ad index of paid social sessions (-1 otherwise)."""
    n = len(channel)
    u1, u2, u3 = uniform(key, 901), uniform(key, 902), uniform(key, 903)
    h = hash64(key, 904).tolist()
    day = start_ms // 86_400_000
    weekday = seasonality.weekday_of(day)
    newsletter_day = day - (weekday - 1) % 7  # the most recent Tuesday
    nl_date = seasonality.dates(newsletter_day).astype(str).tolist()
    land_i = np.floor(u3 * len(LANDINGS)).astype(int).tolist()
    cols = {f: [None] * n for f in Tags.__dataclass_fields__}
    ch_l, u1_l, u2_l, ad_l = channel.tolist(), u1.tolist(), u2.tolist(), ad.tolist()
    # paid search: the Google Ads campaign and ad group ids the account's final URL suffix writes
    search_campaign = search_ads.campaign_of(u1)
    search_group = search_ads.ad_group_of(search_campaign, key)
    google_campaigns, google_groups = search_ads.campaign_ids(), search_ads.ad_group_rows()
    for i in range(n):
        c = ch_l[i]
        path, title = LANDINGS[land_i[i]]
        src = med = camp = uid = content = fb = gc = ref = None
        if c == PAID_SOCIAL:
            a = ad_l[i]
            ci = int(meta.ad_campaign[a])
            src, med, camp = "facebook", "paid_social", meta.campaign_name[ci]
            uid, content = meta.campaign_id[ci], meta.ad_id[a]
            fb = "IwAR" + _token(h[i], 52)
            ref = (
                "https://l.facebook.com/"
                if u1_l[i] < 0.55
                else ("https://l.instagram.com/" if u1_l[i] < 0.85 else None)
            )
        elif c == PAID_SEARCH:
            src, med = "google", "cpc"
            k = int(search_campaign[i])
            camp = SEARCH_CAMPAIGNS[k]
            uid = google_campaigns[k]
            content = google_groups[search_group[i]][0] if search_group[i] >= 0 else None
            gc = "Cj0KCQiA" + _token(h[i], 64)
            ref = "https://www.google.com/"
        elif c == EMAIL:
            src, med = "klaviyo", "email"
            camp = (
                f"newsletter-{nl_date[i]}" if u1_l[i] < 0.6 else EMAIL_FLOWS[int(u2_l[i] * len(EMAIL_FLOWS))]
            )
        elif c == DISPLAY:
            src, med, camp = "criteo", "display", "retargeting-display"
            ref = "https://www.weather.example/" if u1_l[i] < 0.5 else None
        elif c == AFFILIATE:
            name, site = AFFILIATES[int(u1_l[i] * len(AFFILIATES))]
            src, med, camp, ref = name, "affiliate", "affiliate-program", site
        elif c == ORGANIC_SEARCH:
            ref = "https://www.google.com/" if u1_l[i] < 0.86 else "https://www.bing.com/"
            src, med = ("google" if u1_l[i] < 0.86 else "bing"), "organic"
        elif c == ORGANIC_SOCIAL:
            ref = "https://m.facebook.com/" if u1_l[i] < 0.5 else "https://www.instagram.com/"
            src, med = ("m.facebook.com" if u1_l[i] < 0.5 else "instagram.com"), "referral"
        elif c == REFERRAL:
            ref, src = REFERRAL_SITES[int(u1_l[i] * len(REFERRAL_SITES))]
            med = "referral"
        else:
            assert c == DIRECT
            src, med = "(direct)", "(none)"
        tagged = c in (PAID_SOCIAL, PAID_SEARCH, EMAIL, DISPLAY, AFFILIATE)
        params = []
        if tagged:
            params = [f"utm_source={src}", f"utm_medium={med}", f"utm_campaign={camp}"]
            if uid:
                params.append(f"utm_id={uid}")
            if content:
                params.append(f"utm_content={content}")
        if fb:
            params.append(f"fbclid={fb}")
        if gc:
            params.append(f"gclid={gc}")
        cols["source"][i], cols["medium"][i] = src, med
        cols["campaign"][i], cols["utm_id"][i], cols["utm_content"][i] = camp, uid, content
        cols["fbclid"][i], cols["gclid"][i], cols["referrer"][i] = fb, gc, ref
        cols["landing_path"][i], cols["landing_title"][i] = path, title
        cols["query"][i] = "&".join(params) if params else None
        cols["ga_source"][i], cols["ga_medium"][i] = src, med
        if tagged:
            cols["ga_campaign"][i] = camp
        else:
            cols["ga_campaign"][i] = {ORGANIC_SEARCH: "(organic)", DIRECT: "(direct)"}.get(c, "(referral)")
    return Tags(**cols)
