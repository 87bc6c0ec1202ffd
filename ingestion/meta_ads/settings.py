"""Meta connector settings from the environment (the same variables for the sandbox and the real API).

Only the base URL and the credentials differ between the emulator and graph.facebook.com.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ingestion.common.sources import SourceStatus, credentials_status

DEFAULT_API_URL = "https://graph.facebook.com"
# the Graph API version of the official SDK this connector is checked against (facebook_business 26.0.x:
# `apiconfig.ads_api_config["API_VERSION"]`); Meta retires Marketing API versions on a published schedule
# and rejects retired ones with error 2635 (every version before v24.0 since 2026-06-09)
DEFAULT_API_VERSION = "v26.0"
DEFAULT_START_DATE = "2024-11-01"
DEFAULT_REPULL_DAYS = 28  # Meta restates conversions for up to 28 days
REQUIRED = ("META_ACCESS_TOKEN", "META_AD_ACCOUNT_ID")


@dataclass(frozen=True)
class MetaAdsSettings:
    """Everything `meta_ads_source` needs; `from_env()` reads META_* variables."""

    access_token: str = field(repr=False)
    ad_account_id: str
    api_url: str = DEFAULT_API_URL
    api_version: str = DEFAULT_API_VERSION
    start_date: str = DEFAULT_START_DATE
    repull_days: int = DEFAULT_REPULL_DAYS
    page_size: int = 500
    chunk_days: int = 90  # one async report run per chunk of days
    use_async: bool = True
    max_attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 300.0
    timeout: float = 60.0
    poll_interval: float = 1.0
    async_timeout: float = 1800.0

    @classmethod
    def status(cls, env: Mapping[str, str] | None = None) -> SourceStatus:
        """Configured when a token and an ad account are set."""
        env = os.environ if env is None else env
        return credentials_status("meta_ads", env, REQUIRED, env.get("META_API_URL") or DEFAULT_API_URL)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> MetaAdsSettings:
        env = dict(os.environ if env is None else env)
        missing = [k for k in REQUIRED if not env.get(k)]
        if missing and not {"access_token", "ad_account_id"} <= overrides.keys():
            raise KeyError(f"Meta connector: set {', '.join(missing)} (see docs/sources.md#meta-ads)")
        values: dict[str, Any] = {
            "access_token": env.get("META_ACCESS_TOKEN", ""),
            "ad_account_id": env.get("META_AD_ACCOUNT_ID", ""),
            "api_url": env.get("META_API_URL") or DEFAULT_API_URL,
            "api_version": env.get("META_API_VERSION") or DEFAULT_API_VERSION,
            "start_date": env.get("META_START_DATE") or DEFAULT_START_DATE,
            "repull_days": int(env.get("META_REPULL_DAYS") or DEFAULT_REPULL_DAYS),
        }
        optional = {
            "META_PAGE_SIZE": ("page_size", int),
            "META_CHUNK_DAYS": ("chunk_days", int),
            "META_MAX_ATTEMPTS": ("max_attempts", int),
            "META_BACKOFF_SECONDS": ("backoff", float),
            "META_MAX_WAIT_SECONDS": ("max_wait", float),
            "META_POLL_SECONDS": ("poll_interval", float),
            "META_ASYNC_TIMEOUT_SECONDS": ("async_timeout", float),
        }
        for var, (name, cast) in optional.items():
            if env.get(var):
                values[name] = cast(env[var])
        if env.get("META_USE_ASYNC"):
            values["use_async"] = env["META_USE_ASYNC"].lower() not in ("0", "false", "no")
        values.update(overrides)
        return cls(**values)

    def source_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `meta_ads_source`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
