"""GA4 Data API connection as a Dagster resource, fed by EnvVar (secrets never in run config)."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from ingestion.ga4.settings import GA4Settings


class GA4Api(dg.ConfigurableResource):
    """Base URL, property and OAuth access token of the GA4 Data API (the emulator in the sandbox).

    In production GA4_ACCESS_TOKEN is minted from a service account before the run (see docs/sources.md).
    """

    property_id: str = Field(description="GA4_PROPERTY_ID (digits, or properties/<digits>)")
    access_token: str = Field(description="GA4_ACCESS_TOKEN: OAuth token with analytics.readonly")
    api_url: str | None = Field(
        default=None, description="GA4_API_URL; unset = the variable at run time, else the default"
    )
    start_date: str | None = Field(
        default=None,
        description="GA4_START_DATE: first day loaded; unset = the variable at run time, else the default",
    )
    repull_days: int | None = Field(
        default=None,
        description="GA4_REPULL_DAYS: processing delay window; unset = the variable at run time, else the default",
    )

    def settings(self) -> GA4Settings:
        """Connector settings; tuning knobs (page size, backoff) still come from GA4_* env when set."""
        given = {
            "property_id": self.property_id,
            "access_token": self.access_token,
            "api_url": self.api_url,
            "start_date": self.start_date,
            "repull_days": self.repull_days,
        }
        # unset optional fields fall back to the environment at run time (not at import time)
        return GA4Settings.from_env(**{k: v for k, v in given.items() if v is not None})


def ga4_api_resource() -> GA4Api:
    """Required variables are always EnvVars (resolved at run time); optional ones only when set."""
    kwargs: dict = {
        "property_id": dg.EnvVar("GA4_PROPERTY_ID"),
        "access_token": dg.EnvVar("GA4_ACCESS_TOKEN"),
    }
    for name, var in (("api_url", "GA4_API_URL"), ("start_date", "GA4_START_DATE")):
        if os.environ.get(var):
            kwargs[name] = dg.EnvVar(var)
    if os.environ.get("GA4_REPULL_DAYS"):
        kwargs["repull_days"] = dg.EnvVar.int("GA4_REPULL_DAYS")
    return GA4Api(**kwargs)
