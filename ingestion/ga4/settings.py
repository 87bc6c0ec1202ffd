"""GA4 connector settings from the environment (the same variables for the sandbox and the real API).

GA4_ACCESS_TOKEN is an OAuth 2 access token with the `analytics.readonly` scope. A real deployment mints
it from a service account (google-auth: `service_account.Credentials.from_service_account_file(...,
scopes=["https://www.googleapis.com/auth/analytics.readonly"])`, then `credentials.refresh(Request())`;
tokens live one hour) and puts it in the environment before the run; the sandbox emulator takes a fixed one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ingestion.common.sources import SourceStatus, credentials_status

DEFAULT_API_URL = "https://analyticsdata.googleapis.com"
DEFAULT_START_DATE = "2024-11-01"
DEFAULT_REPULL_DAYS = 3  # GA4 keeps processing the last ~2 days
REQUIRED = ("GA4_PROPERTY_ID", "GA4_ACCESS_TOKEN")


@dataclass(frozen=True)
class GA4Settings:
    """Everything `ga4_source` needs; `from_env()` reads GA4_* variables."""

    property_id: str
    access_token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    start_date: str = DEFAULT_START_DATE
    repull_days: int = DEFAULT_REPULL_DAYS
    page_size: int = 10_000
    max_attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 300.0
    timeout: float = 60.0

    @classmethod
    def status(cls, env: Mapping[str, str] | None = None) -> SourceStatus:
        """Configured when a property and an access token are set."""
        env = os.environ if env is None else env
        return credentials_status("ga4", env, REQUIRED, env.get("GA4_API_URL") or DEFAULT_API_URL)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> GA4Settings:
        env = dict(os.environ if env is None else env)
        missing = [k for k in REQUIRED if not env.get(k)]
        if missing and not {"property_id", "access_token"} <= overrides.keys():
            raise KeyError(f"GA4 connector: set {', '.join(missing)} (see docs/sources.md#ga4)")
        values: dict[str, Any] = {
            "property_id": env.get("GA4_PROPERTY_ID", ""),
            "access_token": env.get("GA4_ACCESS_TOKEN", ""),
            "api_url": env.get("GA4_API_URL") or DEFAULT_API_URL,
            "start_date": env.get("GA4_START_DATE") or DEFAULT_START_DATE,
            "repull_days": int(env.get("GA4_REPULL_DAYS") or DEFAULT_REPULL_DAYS),
        }
        optional = {
            "GA4_PAGE_SIZE": ("page_size", int),
            "GA4_MAX_ATTEMPTS": ("max_attempts", int),
            "GA4_BACKOFF_SECONDS": ("backoff", float),
            "GA4_MAX_WAIT_SECONDS": ("max_wait", float),
        }
        for var, (name, cast) in optional.items():
            if env.get(var):
                values[name] = cast(env[var])
        values.update(overrides)
        return cls(**values)

    def source_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `ga4_source`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
