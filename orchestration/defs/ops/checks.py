"""Operational checks wired onto the raw tables and the key marts (quality, data freshness).

Whether the tables were *rebuilt* in time is not a check: it is the `FreshnessPolicy` on every raw
asset and mart, evaluated by Dagster's freshness daemon (orchestration/defs/ops/freshness.py).
"""

import dagster as dg

from orchestration.defs.ops.freshness import reference_clock_resource, source_freshness_checks
from orchestration.defs.ops.quality import WatchedTable, build_quality_checks

RAW_WATCHED = [
    ("shopify", "orders"), ("shopify", "customers"), ("shopify", "order_line_items"),
    ("meta_ads", "ads_insights"), ("google_ads", "campaign_daily"), ("ga4", "daily_traffic"), ("events", "events"),
]  # fmt: skip
MARTS_WATCHED = [
    "fct_orders",
    "dim_customers",
    "fct_sessions",
    "fct_attribution",
    "fct_campaign_performance_daily",
]

WATCHED = [WatchedTable(dg.AssetKey([schema, table]), schema, table) for schema, table in RAW_WATCHED] + [
    WatchedTable(dg.AssetKey(["marts", model]), "marts", model) for model in MARTS_WATCHED
]

defs = dg.Definitions(
    asset_checks=[*build_quality_checks(WATCHED), *source_freshness_checks()],
    resources={"reference_clock": reference_clock_resource()},
)
