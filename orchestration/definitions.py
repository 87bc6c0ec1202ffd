"""The Dagster code location: only assembles the domains under `orchestration/defs/`.

Each domain module exposes a `defs` Definitions object; adding a domain means adding it to DOMAINS.
Every asset then gets its group's owner and tags from one table (orchestration/defs/shared/catalog.py).
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs import activation as activation_domain
from orchestration.defs import events as events_domain
from orchestration.defs import ga4 as ga4_domain
from orchestration.defs import google_ads as google_ads_domain
from orchestration.defs import insights as insights_domain
from orchestration.defs import meta_ads as meta_ads_domain
from orchestration.defs import ml as ml_domain
from orchestration.defs import order_history as order_history_domain
from orchestration.defs import shopify as shopify_domain
from orchestration.defs import transform as transform_domain
from orchestration.defs.ops import alerts as ops_alerts
from orchestration.defs.ops import checks as ops_checks
from orchestration.defs.ops import jobs as ops_jobs
from orchestration.defs.ops import run_recovery as ops_run_recovery
from orchestration.defs.ops.freshness import with_raw_freshness
from orchestration.defs.shared.catalog import with_catalog
from orchestration.defs.shared.resources import warehouse_resource

DOMAINS = [
    ops_jobs,
    ops_alerts,
    ops_checks,
    ops_run_recovery,
    events_domain,
    transform_domain,
    shopify_domain,
    order_history_domain,
    meta_ads_domain,
    google_ads_domain,
    ga4_domain,
    ml_domain,
    insights_domain,
    activation_domain,
]


def _catalogued(merged: dg.Definitions) -> dg.Definitions:
    """Every asset with its group's owner and tags, and the raw assets with their freshness policy.
    (A function, not a second module-level Definitions: the code location must hold exactly one.)
    `dg.map_asset_specs` over the assets, rather than the preview `Definitions.map_asset_specs`."""

    def spec(asset_spec: dg.AssetSpec) -> dg.AssetSpec:
        return with_raw_freshness(with_catalog(asset_spec))

    return dg.Definitions(
        assets=dg.map_asset_specs(spec, list(merged.assets or [])),
        asset_checks=merged.asset_checks,
        jobs=merged.jobs,
        schedules=merged.schedules,
        sensors=merged.sensors,
        resources=merged.resources,
    )


defs = _catalogued(
    dg.Definitions.merge(
        *(domain.defs for domain in DOMAINS),
        dg.Definitions(resources={"warehouse": warehouse_resource()}),
    )
)
