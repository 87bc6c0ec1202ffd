"""`journey sources check google_ads`: do the configured OAuth client and refresh token read the
configured account with the configured API version, today?

Steps: the refresh token mints an access token (google-auth against GOOGLE_ADS_TOKEN_URI), the API
version is served and the account is readable (`FROM customer`: id, name, currency), and one day of
campaign metrics loads with the connector's own query. Details name variables, never their values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from ingestion.common.checks import CheckFailed, SourceCheck, run_check
from ingestion.google_ads.client import (
    GoogleAdsClient,
    GoogleAdsCredentialsError,
    GoogleAdsQuotaExhausted,
    GoogleAdsVersionError,
    RefreshTokenAuth,
)
from ingestion.google_ads.settings import DEFAULT_API_VERSION, GoogleAdsSettings
from ingestion.google_ads.source import DAILY_QUERIES, METRICS

VERSION_RE = re.compile(r"^v\d+$")


def check(env: Mapping[str, str] | None = None) -> SourceCheck:
    env = os.environ if env is None else env
    status = GoogleAdsSettings.status(env)
    if not status.configured:
        return run_check("google_ads", [], False, status.reason)
    settings = GoogleAdsSettings.from_env(dict(env), max_attempts=2, backoff=0.5, max_wait=5.0, timeout=30.0)
    auth = RefreshTokenAuth(settings.client_id, settings.client_secret, settings.refresh_token,
                            settings.token_uri, attempts=2, backoff=0.5)  # fmt: skip
    client = GoogleAdsClient(
        api_url=settings.api_url, api_version=settings.api_version, customer_id=settings.customer_id,
        auth=auth, developer_token=settings.developer_token, login_customer_id=settings.login_customer_id,
        max_attempts=settings.max_attempts, backoff=settings.backoff, max_wait=settings.max_wait,
        timeout=settings.timeout,
    )  # fmt: skip

    def rows_of(query: str) -> list[dict]:
        try:
            return [row for batch in client.search_stream(query) for row in batch]
        except (GoogleAdsVersionError, GoogleAdsQuotaExhausted, GoogleAdsCredentialsError) as exc:
            raise CheckFailed(str(exc)) from exc

    def token() -> str:
        try:
            auth.headers()
        except GoogleAdsCredentialsError as exc:
            raise CheckFailed(str(exc)) from exc
        return f"access token minted for the adwords scope (expires {auth.credentials.expiry:%H:%M} UTC)"

    def account() -> str:
        if not VERSION_RE.match(settings.api_version):
            raise CheckFailed(
                f"GOOGLE_ADS_API_VERSION={settings.api_version} is not an API version (expected e.g. "
                f"{DEFAULT_API_VERSION})"
            )
        query = "SELECT customer.id, customer.descriptive_name, customer.currency_code FROM customer"
        rows = rows_of(query)
        if not rows:
            raise CheckFailed(f"customer {client.customer_id} answered no row")
        customer = rows[0].get("customer") or {}
        return (
            f"{settings.api_version} served; customer {customer.get('id')} {customer.get('descriptiveName')!r} "
            f"readable ({customer.get('currencyCode')})"
            + (
                "; developer token sent (optional since 2026-09-09, ignored)"
                if settings.developer_token
                else ""
            )
        )

    def one_page() -> str:
        day = datetime.now(UTC).date() - timedelta(days=1)
        query = DAILY_QUERIES["campaign_daily"].format(metrics=METRICS, since=day, until=day)
        rows = rows_of(query)
        return f"campaign metrics for {day} answered ({len(rows)} row(s))"

    steps = [("token", token), ("account", account), ("one page", one_page)]
    return run_check("google_ads", steps, True, status.reason)
