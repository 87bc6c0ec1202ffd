"""Shopify GraphQL Admin API -> `shopify` schema (orders, line items, refunds, customers, products),
runnable without Dagster."""

from ingestion.shopify.pipeline import run_shopify_pipeline, shopify_pipeline
from ingestion.shopify.settings import ShopifySettings
from ingestion.shopify.source import shopify_source

__all__ = ["ShopifySettings", "run_shopify_pipeline", "shopify_pipeline", "shopify_source"]
