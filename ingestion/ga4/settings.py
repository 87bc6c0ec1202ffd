"""GA4 connector settings from the environment (the same variables for the sandbox and the real API).

Credentials, first match wins:
1. `GA4_CREDENTIALS_FILE`: a service-account key file (JSON). The connector mints its own access
   tokens from it with google-auth and mints a new one when it expires (Google's last about an hour),
   so a nightly run of any length works. This is the production path.
2. `GA4_ACCESS_TOKEN`: a fixed OAuth 2 access token with the `analytics.readonly` scope, for a short
   job or a test. It cannot be refreshed: a run that outlives it (about an hour) fails with 401.
3. `GOOGLE_APPLICATION_CREDENTIALS`: Google's usual variable, used when it names a service-account key
   file and neither GA4 variable is set (GA4-specific settings win over the machine-wide one).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ingestion.common.sources import SourceStatus

DEFAULT_API_URL = "https://analyticsdata.googleapis.com"
DEFAULT_START_DATE = "2024-11-01"
DEFAULT_REPULL_DAYS = 3  # GA4 keeps processing the last ~2 days
DEFAULT_QUOTA_RESERVE = 1_000  # hourly tokens left below which the load slows down
DEFAULT_PACE_SECONDS = 30.0
CREDENTIAL_VARIABLES = ("GA4_CREDENTIALS_FILE", "GA4_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS")
WHAT_TO_SET = "GA4_CREDENTIALS_FILE (a service-account key file; or GOOGLE_APPLICATION_CREDENTIALS, or a fixed GA4_ACCESS_TOKEN)"


def credentials_from(env: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, value) of the credentials to use, or None when none is set."""
    for variable in CREDENTIAL_VARIABLES:
        if env.get(variable):
            return variable, env[variable]
    return None


@dataclass(frozen=True)
class GA4Settings:
    """Everything `ga4_source` needs; `from_env()` reads GA4_* variables."""

    property_id: str
    access_token: str = field(default="", repr=False)
    credentials_file: str = ""
    credentials_variable: str = "GA4_CREDENTIALS_FILE"  # which variable named the key file (for errors)
    api_url: str = DEFAULT_API_URL
    start_date: str = DEFAULT_START_DATE
    repull_days: int = DEFAULT_REPULL_DAYS
    page_size: int = 10_000
    max_attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 300.0
    timeout: float = 60.0
    quota_reserve: int = DEFAULT_QUOTA_RESERVE
    pace_seconds: float = DEFAULT_PACE_SECONDS

    @classmethod
    def status(cls, env: Mapping[str, str] | None = None) -> SourceStatus:
        """Configured when a property and credentials are set; says which credentials, never values."""
        env = os.environ if env is None else env
        credentials = credentials_from(env)
        missing = [] if env.get("GA4_PROPERTY_ID") else ["GA4_PROPERTY_ID"]
        if credentials is None:
            missing.append(WHAT_TO_SET)
        if missing or credentials is None:
            return SourceStatus("ga4", False, f"set {', '.join(missing)}")
        variable = credentials[0]
        fixed = variable == "GA4_ACCESS_TOKEN"
        kind = "fixed access token, expires in about an hour" if fixed else "service-account key file"
        url = env.get("GA4_API_URL") or DEFAULT_API_URL
        return SourceStatus("ga4", True, f"GA4_PROPERTY_ID, {variable} set ({kind}; {url})")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> GA4Settings:
        env = dict(os.environ if env is None else env)
        given = {"GA4_CREDENTIALS_FILE": overrides.get("credentials_file"),
                 "GA4_ACCESS_TOKEN": overrides.get("access_token")}  # fmt: skip
        merged = {**env, **{k: v for k, v in given.items() if v}}
        if overrides.get("property_id"):
            merged["GA4_PROPERTY_ID"] = str(overrides["property_id"])
        status = cls.status(merged)
        if not status.configured:
            raise KeyError(f"GA4 connector: {status.reason} (see docs/sources.md#ga4)")
        variable, value = credentials_from(merged) or ("", "")
        values: dict[str, Any] = {
            "property_id": merged["GA4_PROPERTY_ID"],
            "access_token": value if variable == "GA4_ACCESS_TOKEN" else "",
            "credentials_file": value if variable != "GA4_ACCESS_TOKEN" else "",
            "credentials_variable": variable if variable != "GA4_ACCESS_TOKEN" else "GA4_CREDENTIALS_FILE",
            "api_url": env.get("GA4_API_URL") or DEFAULT_API_URL,
            "start_date": env.get("GA4_START_DATE") or DEFAULT_START_DATE,
            "repull_days": int(env.get("GA4_REPULL_DAYS") or DEFAULT_REPULL_DAYS),
        }
        optional = {
            "GA4_PAGE_SIZE": ("page_size", int),
            "GA4_MAX_ATTEMPTS": ("max_attempts", int),
            "GA4_BACKOFF_SECONDS": ("backoff", float),
            "GA4_MAX_WAIT_SECONDS": ("max_wait", float),
            "GA4_QUOTA_RESERVE": ("quota_reserve", int),
            "GA4_PACE_SECONDS": ("pace_seconds", float),
        }
        for var, (name, cast) in optional.items():
            if env.get(var):
                values[name] = cast(env[var])
        # the credentials were resolved above (a given key file beats a token in the environment)
        values.update({k: v for k, v in overrides.items() if k not in ("credentials_file", "access_token")})
        return cls(**values)

    def source_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `ga4_source`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
