"""Shopify Admin API connection as a Dagster resource, fed by EnvVar (secrets never in run config)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ingestion.shopify.settings import ShopifySettings
from orchestration.defs.shared.sources import SourceResource


class ShopifyApi(SourceResource):
    """Shop URL, API version and credentials (the emulator in the sandbox): a Dev Dashboard app's client
    id + secret (tokens minted by the client-credentials grant at run time) or a legacy custom app's
    Admin API token. Every field unset = its variable at run time; no URL or credentials = Shopify not
    configured (its assets stay idle)."""

    ENV: ClassVar[dict[str, str]] = {
        "client_id": "SHOPIFY_CLIENT_ID",
        "client_secret": "SHOPIFY_CLIENT_SECRET",
        "access_token": "SHOPIFY_ACCESS_TOKEN",
        "api_url": "SHOPIFY_API_URL",
        "api_version": "SHOPIFY_API_VERSION",
        "start_date": "SHOPIFY_START_DATE",
        "lookback_minutes": "SHOPIFY_LOOKBACK_MINUTES",
    }
    SETTINGS: ClassVar[type] = ShopifySettings

    client_id: str | None = Field(
        default=None, description="SHOPIFY_CLIENT_ID: the Dev Dashboard app's client ID"
    )
    client_secret: str | None = Field(
        default=None,
        description="SHOPIFY_CLIENT_SECRET: the Dev Dashboard app's client secret (exchanged for 24 h tokens)",
    )
    access_token: str | None = Field(
        default=None,
        description="SHOPIFY_ACCESS_TOKEN: a legacy custom app's permanent Admin API token (instead of the "
        "client id + secret)",
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
