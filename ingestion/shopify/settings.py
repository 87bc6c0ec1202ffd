"""Shopify connector settings from the environment (the same variables for the sandbox and a real shop).

Two ways to authenticate, because Shopify has two kinds of app:
- a **Dev Dashboard app** (every app created since 2026-01-01, when the Shopify admin stopped creating
  custom apps): `SHOPIFY_CLIENT_ID` + `SHOPIFY_CLIENT_SECRET`, exchanged by the client-credentials grant
  for an access token that expires after ~24 h (ingestion/shopify/auth.py mints and re-mints it);
- a **legacy custom app** created in the Shopify admin before then: its permanent Admin API token in
  `SHOPIFY_ACCESS_TOKEN`.
When both are set the client credentials win (the token path is the one Shopify is retiring). Only the
base URL and these credentials differ between the emulator and a real store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ingestion.common.sources import SourceStatus

# Shopify supports each quarterly version for 12 months; 2026-10 is the newest stable one (Dec 2026) and
# the one whose published schema the contract test pins (tests/contracts/fixtures/shopify/)
DEFAULT_API_VERSION = "2026-10"
DEFAULT_START_DATE = "2024-11-01"
DEFAULT_LOOKBACK_MINUTES = 10  # re-read rows updated shortly before the cursor (search index lag)
URL_VAR, TOKEN_VAR, CLIENT_ID_VAR, CLIENT_SECRET_VAR = (
    "SHOPIFY_API_URL", "SHOPIFY_ACCESS_TOKEN", "SHOPIFY_CLIENT_ID", "SHOPIFY_CLIENT_SECRET",
)  # fmt: skip
SETTINGS_VARS = (URL_VAR, CLIENT_ID_VAR, CLIENT_SECRET_VAR, TOKEN_VAR)
CLIENT_CREDENTIALS, STATIC_TOKEN = "client-credentials grant", "static Admin API token (legacy custom app)"


def auth_path(access_token: str | None, client_id: str | None, client_secret: str | None) -> str | None:
    """Which credentials authenticate (None: not enough of either)."""
    if client_id and client_secret:
        return CLIENT_CREDENTIALS
    return STATIC_TOKEN if access_token else None


def _status(env: Mapping[str, str]) -> SourceStatus:
    url = env.get(URL_VAR, "")
    client_id, secret, token = env.get(CLIENT_ID_VAR), env.get(CLIENT_SECRET_VAR), env.get(TOKEN_VAR)
    path = auth_path(token, client_id, secret)
    if path is None:
        if client_id or secret:  # half of a client-credentials pair: name the other half
            missing = [
                v for v, value in ((CLIENT_ID_VAR, client_id), (CLIENT_SECRET_VAR, secret)) if not value
            ]
            wanted = [*([] if url else [URL_VAR]), *missing]
            return SourceStatus("shopify", False, f"set {', '.join(wanted)}")
        return SourceStatus(
            "shopify", False,
            f"set {', '.join([*([] if url else [URL_VAR]), CLIENT_ID_VAR, CLIENT_SECRET_VAR])} "
            f"(a Dev Dashboard app), or {TOKEN_VAR} (a legacy custom app)",
        )  # fmt: skip
    if not url:
        return SourceStatus("shopify", False, f"set {URL_VAR}")
    used = [URL_VAR, CLIENT_ID_VAR, CLIENT_SECRET_VAR] if path == CLIENT_CREDENTIALS else [URL_VAR, TOKEN_VAR]
    ignored = f"; {TOKEN_VAR} ignored" if path == CLIENT_CREDENTIALS and token else ""
    return SourceStatus("shopify", True, f"{', '.join(used)} set ({path}{ignored}; {url})")


@dataclass(frozen=True)
class ShopifySettings:
    """Everything `shopify_source` needs; `from_env()` reads SHOPIFY_* variables."""

    api_url: str
    access_token: str = field(default="", repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    api_version: str = DEFAULT_API_VERSION
    start_date: str = DEFAULT_START_DATE
    lookback_minutes: float = DEFAULT_LOOKBACK_MINUTES
    page_size: int = 250  # first page size of each connection; shrunk when a query costs over 1000
    nested_page_size: int = 5  # line items / refund line items / variants fetched inline per node
    max_attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 60.0
    timeout: float = 60.0

    @property
    def auth_path(self) -> str | None:
        return auth_path(self.access_token, self.client_id, self.client_secret)

    @classmethod
    def status(cls, env: Mapping[str, str] | None = None) -> SourceStatus:
        """Configured when the shop URL and either a client id + secret or an Admin API token are set;
        the reason names the variables and the auth path, never a value."""
        return _status(os.environ if env is None else env)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ShopifySettings:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {
            "api_url": env.get(URL_VAR, ""),
            "access_token": env.get(TOKEN_VAR, ""),
            "client_id": env.get(CLIENT_ID_VAR, ""),
            "client_secret": env.get(CLIENT_SECRET_VAR, ""),
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
        for name in ("api_url", "access_token", "client_id", "client_secret"):
            values[name] = values[name] or ""
        status = _status({
            URL_VAR: values["api_url"], TOKEN_VAR: values["access_token"],
            CLIENT_ID_VAR: values["client_id"], CLIENT_SECRET_VAR: values["client_secret"],
        })  # fmt: skip
        if not status.configured:
            raise KeyError(f"Shopify connector: {status.reason} (see docs/sources.md#shopify)")
        return cls(**values)

    def source_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `shopify_source`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
