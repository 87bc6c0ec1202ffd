"""Shopify Admin API connection as a Dagster resource, fed by EnvVar (secrets never in run config)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ingestion.shopify.settings import ShopifySettings
from orchestration.defs.shared.sources import SourceResource


class ShopifyApi(SourceResource):
    """Shop URL, API version and Admin API token (the emulator in the sandbox). Every field unset =
    its variable at run time; no URL or token = Shopify not configured (its assets stay idle)."""

    ENV: ClassVar[dict[str, str]] = {
        "access_token": "SHOPIFY_ACCESS_TOKEN",
        "api_url": "SHOPIFY_API_URL",
        "api_version": "SHOPIFY_API_VERSION",
        "start_date": "SHOPIFY_START_DATE",
        "lookback_minutes": "SHOPIFY_LOOKBACK_MINUTES",
    }
    SETTINGS: ClassVar[type] = ShopifySettings

    access_token: str | None = Field(
        default=None,
        description="SHOPIFY_ACCESS_TOKEN: Admin API token with read_orders, read_customers, read_products",
    )
    api_url: str | None = Field(default=None, description="SHOPIFY_API_URL: https://<shop>.myshopify.com")
    api_version: str | None = Field(
        default=None, description="SHOPIFY_API_VERSION; unset = the variable at run time, else the default"
    )
    start_date: str | None = Field(
        default=None,
        description="SHOPIFY_START_DATE: first order day; unset = the variable at run time, else the default",
    )
    lookback_minutes: float | None = Field(
        default=None,
        description="SHOPIFY_LOOKBACK_MINUTES; unset = the variable at run time, else the default",
    )


def shopify_api_resource() -> ShopifyApi:
    return ShopifyApi.from_environment()
