"""Google Ads connector settings from the environment (the same variables for the sandbox and the real API).

Auth is OAuth 2 for a Google user with access to the account: the OAuth client (id and secret) of the
Google Cloud project that has the Google Ads API enabled, and a refresh token for the `adwords` scope;
google-auth mints and renews the access tokens. Since 2026-09-09 the API access level belongs to that
Cloud project and the developer token is optional and ignored by Google: `GOOGLE_ADS_DEVELOPER_TOKEN`
is sent only when set. `GOOGLE_ADS_LOGIN_CUSTOMER_ID` is the manager account when the account is
reached through one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ingestion.common.sources import SourceStatus, credentials_status

DEFAULT_API_URL = "https://googleads.googleapis.com"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
# the newest Google Ads API version (v26, October 2026); Google sunsets each version about a year after
# its release, and a sunset version answers HTTP 404 (see client.py)
DEFAULT_API_VERSION = "v26"
DEFAULT_START_DATE = "2024-11-01"
DEFAULT_REPULL_DAYS = 30  # conversions keep arriving for the conversion window: re-pull 30 days
REQUIRED = (
    "GOOGLE_ADS_CUSTOMER_ID", "GOOGLE_ADS_CLIENT_ID", "GOOGLE_ADS_CLIENT_SECRET", "GOOGLE_ADS_REFRESH_TOKEN",
)  # fmt: skip


@dataclass(frozen=True)
class GoogleAdsSettings:
    """Everything `google_ads_source` needs; `from_env()` reads GOOGLE_ADS_* variables."""

    customer_id: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    developer_token: str = field(default="", repr=False)
    login_customer_id: str = ""
    api_url: str = DEFAULT_API_URL
    token_uri: str = DEFAULT_TOKEN_URI
    api_version: str = DEFAULT_API_VERSION
    start_date: str = DEFAULT_START_DATE
    repull_days: int = DEFAULT_REPULL_DAYS
    chunk_days: int = 90  # one searchStream per chunk of days
    max_attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 60.0
    timeout: float = 120.0

    @classmethod
    def status(cls, env: Mapping[str, str] | None = None) -> SourceStatus:
        """Configured when the account and the OAuth client + refresh token are set."""
        env = os.environ if env is None else env
        return credentials_status(
            "google_ads", env, REQUIRED, env.get("GOOGLE_ADS_API_URL") or DEFAULT_API_URL
        )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> GoogleAdsSettings:
        env = dict(os.environ if env is None else env)
        missing = [k for k in REQUIRED if not env.get(k)]
        if missing and not {"customer_id", "client_id", "client_secret", "refresh_token"} <= overrides.keys():
            raise KeyError(f"Google Ads connector: set {', '.join(missing)} (see docs/sources.md#google-ads)")
        values: dict[str, Any] = {
            "customer_id": env.get("GOOGLE_ADS_CUSTOMER_ID", ""),
            "client_id": env.get("GOOGLE_ADS_CLIENT_ID", ""),
            "client_secret": env.get("GOOGLE_ADS_CLIENT_SECRET", ""),
            "refresh_token": env.get("GOOGLE_ADS_REFRESH_TOKEN", ""),
            "developer_token": env.get("GOOGLE_ADS_DEVELOPER_TOKEN", ""),
            "login_customer_id": env.get("GOOGLE_ADS_LOGIN_CUSTOMER_ID", ""),
            "api_url": env.get("GOOGLE_ADS_API_URL") or DEFAULT_API_URL,
            "token_uri": env.get("GOOGLE_ADS_TOKEN_URI") or DEFAULT_TOKEN_URI,
            "api_version": env.get("GOOGLE_ADS_API_VERSION") or DEFAULT_API_VERSION,
            "start_date": env.get("GOOGLE_ADS_START_DATE") or DEFAULT_START_DATE,
            "repull_days": int(env.get("GOOGLE_ADS_REPULL_DAYS") or DEFAULT_REPULL_DAYS),
        }
        optional = {
            "GOOGLE_ADS_CHUNK_DAYS": ("chunk_days", int),
            "GOOGLE_ADS_MAX_ATTEMPTS": ("max_attempts", int),
            "GOOGLE_ADS_BACKOFF_SECONDS": ("backoff", float),
            "GOOGLE_ADS_MAX_WAIT_SECONDS": ("max_wait", float),
        }
        for var, (name, cast) in optional.items():
            if env.get(var):
                values[name] = cast(env[var])
        values.update(overrides)
        return cls(**values)

    def source_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `google_ads_source`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
