"""GA4 Data API connection as a Dagster resource, fed by EnvVar (secrets never in run config)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ingestion.ga4.settings import GA4Settings
from orchestration.defs.shared.sources import SourceResource


class GA4Api(SourceResource):
    """Base URL, property and credentials of the GA4 Data API (the emulator in the sandbox): a
    service-account key file (GA4_CREDENTIALS_FILE, else GOOGLE_APPLICATION_CREDENTIALS at run time),
    from which the connector mints and refreshes its own tokens, or a fixed GA4_ACCESS_TOKEN (about an
    hour). No property or credentials = GA4 not configured (its assets stay idle).
    """

    ENV: ClassVar[dict[str, str]] = {
        "property_id": "GA4_PROPERTY_ID",
        "credentials_file": "GA4_CREDENTIALS_FILE",
        "access_token": "GA4_ACCESS_TOKEN",
        "api_url": "GA4_API_URL",
        "start_date": "GA4_START_DATE",
        "repull_days": "GA4_REPULL_DAYS",
    }
    SETTINGS: ClassVar[type] = GA4Settings

    property_id: str | None = Field(
        default=None, description="GA4_PROPERTY_ID (digits, or properties/<digits>)"
    )
    credentials_file: str | None = Field(
        default=None, description="GA4_CREDENTIALS_FILE: path of a service-account key file (JSON)"
    )
    access_token: str | None = Field(
        default=None, description="GA4_ACCESS_TOKEN: fixed OAuth token with analytics.readonly (~1 hour)"
    )
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


def ga4_api_resource() -> GA4Api:
    return GA4Api.from_environment()
