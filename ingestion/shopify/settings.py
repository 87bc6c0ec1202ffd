"""Shopify connector settings from the environment (the same variables for the sandbox and a real shop).

Only the base URL (`https://<shop>.myshopify.com`) and the Admin API access token differ between the
emulator and a real store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ingestion.common.sources import SourceStatus, credentials_status

DEFAULT_API_VERSION = "2025-01"
DEFAULT_START_DATE = "2024-11-01"
DEFAULT_LOOKBACK_MINUTES = 10  # re-read rows updated shortly before the cursor (search index lag)
REQUIRED = ("SHOPIFY_API_URL", "SHOPIFY_ACCESS_TOKEN")


@dataclass(frozen=True)
class ShopifySettings:
    """Everything `shopify_source` needs; `from_env()` reads SHOPIFY_* variables."""

    access_token: str = field(repr=False)
    api_url: str
    api_version: str = DEFAULT_API_VERSION
    start_date: str = DEFAULT_START_DATE
    lookback_minutes: float = DEFAULT_LOOKBACK_MINUTES
    page_size: int = 250  # first page size of each connection; shrunk when a query costs over 1000
    nested_page_size: int = 5  # line items / refund line items / variants fetched inline per node
    max_attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 60.0
    timeout: float = 60.0

    @classmethod
    def status(cls, env: Mapping[str, str] | None = None) -> SourceStatus:
        """Configured when the shop URL and an Admin API token are set."""
        env = os.environ if env is None else env
        return credentials_status("shopify", env, REQUIRED, env.get("SHOPIFY_API_URL", ""))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> ShopifySettings:
        env = dict(os.environ if env is None else env)
        missing = [k for k in REQUIRED if not env.get(k)]
        if missing and not {"access_token", "api_url"} <= overrides.keys():
            raise KeyError(f"Shopify connector: set {', '.join(missing)} (see docs/sources.md#shopify)")
        values: dict[str, Any] = {
            "access_token": env.get("SHOPIFY_ACCESS_TOKEN", ""),
            "api_url": env.get("SHOPIFY_API_URL", ""),
            "api_version": env.get("SHOPIFY_API_VERSION") or DEFAULT_API_VERSION,
            "start_date": env.get("SHOPIFY_START_DATE") or DEFAULT_START_DATE,
        }
        optional = {
            "SHOPIFY_LOOKBACK_MINUTES": ("lookback_minutes", float),
            "SHOPIFY_PAGE_SIZE": ("page_size", int),
            "SHOPIFY_NESTED_PAGE_SIZE": ("nested_page_size", int),
            "SHOPIFY_MAX_ATTEMPTS": ("max_attempts", int),
            "SHOPIFY_BACKOFF_SECONDS": ("backoff", float),
            "SHOPIFY_MAX_WAIT_SECONDS": ("max_wait", float),
        }
        for var, (name, cast) in optional.items():
            if env.get(var):
                values[name] = cast(env[var])
        values.update(overrides)
        return cls(**values)

    def source_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `shopify_source`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
