"""Google Ads API connection as a Dagster resource, fed by EnvVar (secrets never in run config)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ingestion.google_ads.settings import GoogleAdsSettings
from orchestration.defs.shared.sources import SourceResource


class GoogleAdsApi(SourceResource):
    """The account, the OAuth client and refresh token, and where the API is (the emulator in the
    sandbox). Without the account and the OAuth credentials Google Ads is not configured (idle assets)."""

    ENV: ClassVar[dict[str, str]] = {
        "customer_id": "GOOGLE_ADS_CUSTOMER_ID",
        "client_id": "GOOGLE_ADS_CLIENT_ID",
        "client_secret": "GOOGLE_ADS_CLIENT_SECRET",
        "refresh_token": "GOOGLE_ADS_REFRESH_TOKEN",
        "developer_token": "GOOGLE_ADS_DEVELOPER_TOKEN",
        "login_customer_id": "GOOGLE_ADS_LOGIN_CUSTOMER_ID",
        "api_url": "GOOGLE_ADS_API_URL",
        "token_uri": "GOOGLE_ADS_TOKEN_URI",
        "api_version": "GOOGLE_ADS_API_VERSION",
        "start_date": "GOOGLE_ADS_START_DATE",
        "repull_days": "GOOGLE_ADS_REPULL_DAYS",
    }
    SETTINGS: ClassVar[type] = GoogleAdsSettings

    customer_id: str | None = Field(default=None, description="GOOGLE_ADS_CUSTOMER_ID: the account, digits")
    client_id: str | None = Field(default=None, description="GOOGLE_ADS_CLIENT_ID: the OAuth client's id")
    client_secret: str | None = Field(default=None, description="GOOGLE_ADS_CLIENT_SECRET")
    refresh_token: str | None = Field(default=None, description="GOOGLE_ADS_REFRESH_TOKEN (adwords scope)")
    developer_token: str | None = Field(
        default=None, description="GOOGLE_ADS_DEVELOPER_TOKEN: optional, ignored by Google since 2026-09-09"
    )
    login_customer_id: str | None = Field(
        default=None,
        description="GOOGLE_ADS_LOGIN_CUSTOMER_ID: the manager account, when reached through one",
    )
    api_url: str | None = Field(default=None, description="GOOGLE_ADS_API_URL; unset = the default")
    token_uri: str | None = Field(default=None, description="GOOGLE_ADS_TOKEN_URI; unset = Google's")
    api_version: str | None = Field(default=None, description="GOOGLE_ADS_API_VERSION; unset = the default")
    start_date: str | None = Field(default=None, description="GOOGLE_ADS_START_DATE: first day of metrics")
    repull_days: int | None = Field(default=None, description="GOOGLE_ADS_REPULL_DAYS: restatement window")


def google_ads_api_resource() -> GoogleAdsApi:
    return GoogleAdsApi.from_environment()
