"""Meta Marketing API connection as a Dagster resource, fed by EnvVar (secrets never in run config)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ingestion.meta_ads.settings import MetaAdsSettings
from orchestration.defs.shared.sources import SourceResource


class MetaAdsApi(SourceResource):
    """Base URL, API version, token and ad account of the Marketing API (the emulator in the sandbox).
    No token or ad account = Meta not configured (its assets stay idle)."""

    ENV: ClassVar[dict[str, str]] = {
        "access_token": "META_ACCESS_TOKEN",
        "ad_account_id": "META_AD_ACCOUNT_ID",
        "api_url": "META_API_URL",
        "api_version": "META_API_VERSION",
        "start_date": "META_START_DATE",
        "repull_days": "META_REPULL_DAYS",
    }
    SETTINGS: ClassVar[type] = MetaAdsSettings

    access_token: str | None = Field(
        default=None, description="META_ACCESS_TOKEN: a system-user token with ads_read"
    )
    ad_account_id: str | None = Field(
        default=None, description="META_AD_ACCOUNT_ID, with or without the act_ prefix"
    )
    api_url: str | None = Field(
        default=None, description="META_API_URL; unset = the variable at run time, else the default"
    )
    api_version: str | None = Field(
        default=None, description="META_API_VERSION; unset = the variable at run time, else the default"
    )
    start_date: str | None = Field(
        default=None,
        description="META_START_DATE: first day of insights; unset = the variable at run time, else the default",
    )
    repull_days: int | None = Field(
        default=None,
        description="META_REPULL_DAYS: restatement window; unset = the variable at run time, else the default",
    )


def meta_ads_api_resource() -> MetaAdsApi:
    return MetaAdsApi.from_environment()
