"""`[shopify, orders|order_line_items|refunds|refund_line_items|customers|products|product_variants]`:
the Shopify dlt source as Dagster assets, with `dagster/row_count` per table and the load's notices
(e.g. `api_version_mismatch`: Shopify served another Admin API version than SHOPIFY_API_VERSION).
Optional: without SHOPIFY_API_URL and either SHOPIFY_CLIENT_ID + SHOPIFY_CLIENT_SECRET or
SHOPIFY_ACCESS_TOKEN the assets report "not configured" and load nothing.

Tables that come from one API read share one incremental cursor (orders and their line items, refunds
and refund line items; products and their variants). Materializing only part of such a family would
advance the cursor past rows the unselected tables never received, so a run selecting part of a family
fails at once with the family to select instead.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, dlt_assets

from ingestion.shopify import shopify_pipeline, shopify_source
from ingestion.shopify.pipeline import DATASET
from ingestion.shopify.source import ORDER_TABLES, PRODUCT_TABLES, TABLE_DESCRIPTIONS
from orchestration.defs.meta_ads.assets import RawTableTranslator
from orchestration.defs.shared.resources import WAREHOUSE_POOL, Warehouse
from orchestration.defs.shared.sources import load_dlt_source
from orchestration.defs.shopify.resources import ShopifyApi, shopify_api_resource

GROUP = "shopify"
FAMILIES = (ORDER_TABLES, PRODUCT_TABLES)


def check_families(selected: set[dg.AssetKey]) -> None:
    """Refuse a selection holding part of a family of tables fed by one cursor."""
    tables = {key.path[-1] for key in selected if key.path[0] == DATASET}
    for family in FAMILIES:
        chosen = tables & set(family)
        if chosen and chosen != set(family):
            raise dg.Failure(
                f"shopify: {', '.join(sorted(chosen))} share one API read and cursor with "
                f"{', '.join(sorted(set(family) - chosen))}; select all of {', '.join(family)}"
            )


@dlt_assets(
    # the definition-time source only tells Dagster which tables exist; runs build their own from resources
    dlt_source=shopify_source(access_token="resolved-at-run-time", api_url="http://resolved-at-run-time"),
    dlt_pipeline=shopify_pipeline(),
    name="shopify",
    pool=WAREHOUSE_POOL,
    dagster_dlt_translator=RawTableTranslator(DATASET, GROUP, TABLE_DESCRIPTIONS),
)
def shopify_assets(
    context: dg.AssetExecutionContext,
    shopify_dlt: DagsterDltResource,
    warehouse: Warehouse,
    shopify_api: ShopifyApi,
) -> Iterator[Any]:
    """Load orders (+ line items, refunds), customers and products (+ variants)."""
    check_families(set(context.selected_asset_keys))
    yield from load_dlt_source(
        context, warehouse, shopify_api, shopify_dlt,
        lambda settings: shopify_source(**settings.source_kwargs()), shopify_pipeline, DATASET,
    )  # fmt: skip


defs = dg.Definitions(
    assets=[shopify_assets],
    # a domain-specific key: Definitions.merge rejects two different resource objects under one key
    resources={"shopify_dlt": DagsterDltResource(), "shopify_api": shopify_api_resource()},
)
