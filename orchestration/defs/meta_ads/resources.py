"""Meta Marketing API connection as a Dagster resource, fed by EnvVar (secrets never in run config)."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from ingestion.meta_ads.settings import (
    DEFAULT_API_URL,
    DEFAULT_API_VERSION,
    DEFAULT_REPULL_DAYS,
    DEFAULT_START_DATE,
    MetaAdsSettings,
)


class MetaAdsApi(dg.ConfigurableResource):
    """Base URL, API version, token and ad account of the Marketing API (the emulator in the sandbox)."""

    access_token: str = Field(description="META_ACCESS_TOKEN: a system-user token with ads_read")
    ad_account_id: str = Field(description="META_AD_ACCOUNT_ID, with or without the act_ prefix")
    api_url: str = Field(default=DEFAULT_API_URL, description="META_API_URL")
    api_version: str = Field(default=DEFAULT_API_VERSION, description="META_API_VERSION")
    start_date: str = Field(default=DEFAULT_START_DATE, description="META_START_DATE: first day of insights")
    repull_days: int = Field(default=DEFAULT_REPULL_DAYS, description="META_REPULL_DAYS: restatement window")

    def settings(self) -> MetaAdsSettings:
        """Connector settings; tuning knobs (page size, backoff) still come from META_* env when set."""
        return MetaAdsSettings.from_env(
            access_token=self.access_token,
            ad_account_id=self.ad_account_id,
            api_url=self.api_url,
            api_version=self.api_version,
            start_date=self.start_date,
            repull_days=self.repull_days,
        )


def meta_ads_api_resource() -> MetaAdsApi:
    """Required variables are always EnvVars (resolved at run time); optional ones only when set."""
    kwargs: dict = {
        "access_token": dg.EnvVar("META_ACCESS_TOKEN"),
        "ad_account_id": dg.EnvVar("META_AD_ACCOUNT_ID"),
    }
    for name, var in (
        ("api_url", "META_API_URL"),
        ("api_version", "META_API_VERSION"),
        ("start_date", "META_START_DATE"),
    ):
        if os.environ.get(var):
            kwargs[name] = dg.EnvVar(var)
    if os.environ.get("META_REPULL_DAYS"):
        kwargs["repull_days"] = dg.EnvVar.int("META_REPULL_DAYS")
    return MetaAdsApi(**kwargs)
