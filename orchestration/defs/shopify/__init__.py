"""Dagster wrapper of the Shopify dlt source (ingestion/shopify)."""

from orchestration.defs.shopify.assets import defs

__all__ = ["defs"]
