"""Meta Marketing API connection as a Dagster resource, fed by EnvVar (secrets never in run config)."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from ingestion.meta_ads.settings import (
    MetaAdsSettings,
)


class MetaAdsApi(dg.ConfigurableResource):
    """Base URL, API version, token and ad account of the Marketing API (the emulator in the sandbox)."""

    access_token: str = Field(description="META_ACCESS_TOKEN: a system-user token with ads_read")
    ad_account_id: str = Field(description="META_AD_ACCOUNT_ID, with or without the act_ prefix")
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

    def settings(self) -> MetaAdsSettings:
        """Connector settings; tuning knobs (page size, backoff) still come from META_* env when set."""
        given = {
            "access_token": self.access_token,
            "ad_account_id": self.ad_account_id,
            "api_url": self.api_url,
            "api_version": self.api_version,
            "start_date": self.start_date,
            "repull_days": self.repull_days,
        }
        # unset optional fields fall back to the environment at run time (not at import time)
        return MetaAdsSettings.from_env(**{k: v for k, v in given.items() if v is not None})


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
