"""Shopify Admin API connection as a Dagster resource, fed by EnvVar (secrets never in run config)."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from ingestion.shopify.settings import (
    ShopifySettings,
)


class ShopifyApi(dg.ConfigurableResource):
    """Shop URL, API version and Admin API token (the emulator in the sandbox), plus order history."""

    access_token: str = Field(
        description="SHOPIFY_ACCESS_TOKEN: Admin API token with read_orders, read_customers, read_products"
    )
    api_url: str = Field(description="SHOPIFY_API_URL: https://<shop>.myshopify.com")
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
    order_history_path: str | None = Field(
        default=None, description="ORDER_HISTORY_PATH: CSV/Parquet file or dir"
    )

    def settings(self) -> ShopifySettings:
        """Connector settings; tuning knobs (page size, backoff) still come from SHOPIFY_* env when set."""
        given = {
            "access_token": self.access_token,
            "api_url": self.api_url,
            "api_version": self.api_version,
            "start_date": self.start_date,
            "lookback_minutes": self.lookback_minutes,
            "order_history_path": self.order_history_path,
        }
        # unset optional fields fall back to the environment at run time (not at import time)
        return ShopifySettings.from_env(**{k: v for k, v in given.items() if v is not None})


def shopify_api_resource() -> ShopifyApi:
    """Required variables are always EnvVars (resolved at run time); optional ones only when set."""
    kwargs: dict = {
        "access_token": dg.EnvVar("SHOPIFY_ACCESS_TOKEN"),
        "api_url": dg.EnvVar("SHOPIFY_API_URL"),
    }
    for name, var in (
        ("api_version", "SHOPIFY_API_VERSION"),
        ("start_date", "SHOPIFY_START_DATE"),
        ("order_history_path", "ORDER_HISTORY_PATH"),
    ):
        if os.environ.get(var):
            kwargs[name] = dg.EnvVar(var)
    if os.environ.get("SHOPIFY_LOOKBACK_MINUTES"):
        kwargs["lookback_minutes"] = float(os.environ["SHOPIFY_LOOKBACK_MINUTES"])
    return ShopifyApi(**kwargs)
