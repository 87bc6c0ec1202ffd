"""The GA4 Data API's auth and quotas on top of the shared retrying client (ingestion/common/http.py).

Auth: a service-account key file, read and signed by google-auth (the library Google maintains for
exactly this), exchanged at the file's `token_uri` for an access token that lasts about an hour;
`ServiceAccountAuth` mints one when there is none or it is about to expire, and again when the API
answers 401 (the shared client asks once). A fixed `GA4_ACCESS_TOKEN` is the other, short-lived path.

Quotas: GA4 meters tokens per property per hour and per day. A 429 for those is not a blip that six
quick retries outlast: the hourly tokens come back within the hour, the daily ones at midnight Pacific
time. So a 429 naming an hourly or daily quota stops the load at once with `GA4QuotaExhausted`, which
says which quota and when to retry; a 429 for concurrent requests is still retried like any other.
Every request asks for `returnPropertyQuota`, and `QuotaPacer` slows the load down when the hourly
tokens left run low.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from google.oauth2 import service_account

from ingestion.common.google_auth import GoogleTokenAuth
from ingestion.common.http import ApiClient, Auth, SourceAPIError
from ingestion.common.notices import notice

log = logging.getLogger(__name__)

SOURCE = "ga4"
SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
PACIFIC = ZoneInfo("America/Los_Angeles")  # Google: "Daily quotas refresh at midnight PST"
KEY_FIELDS = ("client_email", "private_key", "token_uri")
# fragments of Google's 429 messages -> (quota name in `propertyQuota`, what a person reads, period)
QUOTA_MESSAGES = (
    ("tokens per day", "tokensPerDay", "tokens per property per day", "day"),
    ("tokens for a project per hour", "tokensPerProjectPerHour", "tokens per project per property per hour", "hour"),
    ("tokens per hour", "tokensPerHour", "tokens per property per hour", "hour"),
    ("potentially thresholded requests", "potentiallyThresholdedRequestsPerHour",
     "potentially thresholded requests per hour", "hour"),
    ("server errors", "serverErrorsPerProjectPerHour", "server errors per project per hour", "hour"),
)  # fmt: skip


class GA4CredentialsError(ValueError):
    """The credentials cannot be used; the message names the variable and the file, never its content."""


class GA4QuotaExhausted(RuntimeError):
    """An hourly or daily GA4 quota is spent: retrying now cannot succeed."""

    def __init__(
        self, property_id: str, quota: str, label: str, period: str, google: str, retry_at: datetime
    ):
        self.quota, self.period, self.retry_at = quota, period, retry_at
        utc = retry_at.astimezone(UTC)
        if period == "day":
            when = (
                f"daily tokens come back at midnight Pacific time: retry after "
                f"{retry_at:%Y-%m-%d %H:%M %Z} ({utc:%Y-%m-%d %H:%M} UTC)"
            )
        else:
            when = f"hourly quotas come back within the hour: retry after {utc:%Y-%m-%d %H:%M} UTC"
        super().__init__(
            f"ga4: property {property_id}: the GA4 quota of {label} is exhausted (HTTP 429 RESOURCE_EXHAUSTED: "
            f"{google}); stopped instead of retrying: {when}. Nothing from this run was loaded; the next "
            "run starts from the same cursor."
        )


def retry_at(period: str, now: datetime | None = None) -> datetime:
    """When a spent quota is back: the top of the next hour (UTC), or the next midnight Pacific time."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if period == "hour":
        return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    return midnight


def classify_quota(message: str) -> tuple[str, str, str] | None:
    """(quota, label, period) of a 429 that names an hourly or daily quota; None for the others
    (concurrent requests), which are worth retrying."""
    lowered = message.lower()
    for fragment, quota, label, period in QUOTA_MESSAGES:
        if fragment in lowered:
            return quota, label, period
    return None


def quota_guard(property_id: str) -> Callable[[requests.Response], Exception | None]:
    """`ApiClient.fatal` hook: a 429 for an hourly or daily quota is `GA4QuotaExhausted`, raised before
    the shared client can spend its retries on it."""

    def fatal(response: requests.Response) -> Exception | None:
        if response.status_code != 429:
            return None
        try:
            message = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            return None  # not Google's error body (a proxy's 429): the ordinary retries apply
        found = classify_quota(message)
        if found is None:
            return None
        quota, label, period = found
        return GA4QuotaExhausted(property_id, quota, label, period, message, retry_at(period))

    return fatal


def load_service_account(path: str, variable: str) -> service_account.Credentials:
    """google-auth credentials from a key file, or an error naming `variable` and `path` that says what
    is wrong with the file (never quoting it: it holds a private key)."""
    where = f"{variable}={path}"
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise GA4CredentialsError(f"{where}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise GA4CredentialsError(f"{where}: cannot be read ({type(exc).__name__})") from exc
    try:
        info = json.loads(text)
    except ValueError as exc:
        raise GA4CredentialsError(f"{where}: not a JSON key file") from exc
    if not isinstance(info, dict) or info.get("type") != "service_account":
        kind = info.get("type") if isinstance(info, dict) else None
        raise GA4CredentialsError(
            f"{where}: not a service-account key file (type {kind!r}; expected 'service_account'): create "
            "a JSON key for a service account in the Google Cloud console (docs/sources.md#ga4)"
        )
    missing = [name for name in KEY_FIELDS if not info.get(name)]
    if missing:
        raise GA4CredentialsError(f"{where}: the key file lacks {', '.join(missing)}")
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    except ValueError as exc:  # the private key does not parse (google-auth / cryptography)
        raise GA4CredentialsError(
            f"{where}: private_key is not a valid PEM private key ({type(exc).__name__})"
        ) from None


@dataclass
class ServiceAccountAuth(GoogleTokenAuth):
    """`Auth` for the shared client: a bearer token minted from the service account, re-minted when
    google-auth says it is no longer valid (missing, or within minutes of its expiry) or after a 401."""

    path: str
    variable: str = "GA4_CREDENTIALS_FILE"

    def build(self) -> service_account.Credentials:
        return load_service_account(self.path, self.variable)

    @property
    def email(self) -> str:
        return str(self.credentials.service_account_email)

    def minted_for(self) -> str:
        return f"ga4 service account {self.email}"

    def _uri(self) -> str:
        return getattr(
            self.credentials, "_token_uri", "the key file's token_uri"
        )  # google-auth keeps it private

    def refused(self, reason: str) -> Exception:
        return GA4CredentialsError(
            f"the token endpoint {self._uri()} refused the service account {self.email} "
            f"({self.variable}={self.path}): {reason}"
        )

    def unreachable(self, attempts: int, exc: Exception) -> Exception:
        return GA4CredentialsError(
            f"the token endpoint {self._uri()} could not be reached after {attempts} attempt(s) "
            f"({type(exc).__name__}); check the network or token_uri in {self.variable}={self.path}"
        )


def explain(exc: SourceAPIError, auth: Auth | None, property_id: str) -> Exception:
    """GA4's 401 and 403 said as what to do about them (other errors are returned unchanged)."""
    email = auth.email if isinstance(auth, ServiceAccountAuth) else None
    if exc.status == 401:
        if isinstance(auth, ServiceAccountAuth):
            return GA4CredentialsError(
                f"Google refused a freshly minted token for {email} ({auth.variable}={auth.path}) with HTTP "
                f"401: is the Google Analytics Data API enabled in the service account's project? [{exc}]"
            )
        return GA4CredentialsError(
            "Google refused GA4_ACCESS_TOKEN with HTTP 401: access tokens expire about an hour after they "
            "are minted; set GA4_CREDENTIALS_FILE to a service-account key file so the connector mints and "
            f"refreshes its own (docs/sources.md#ga4) [{exc}]"
        )
    if exc.status == 403:
        who = f"the service account {email}" if email else "the user of GA4_ACCESS_TOKEN"
        return GA4CredentialsError(
            f"{who} may not read GA4 property {property_id} (HTTP 403 PERMISSION_DENIED): in GA4 Admin > "
            f"Property access management add {email or 'that user'} as a Viewer, and check GA4_PROPERTY_ID [{exc}]"
        )
    return exc


@dataclass
class QuotaPacer:
    """Reads `propertyQuota` of each response; when the hourly tokens left fall below `reserve`, it
    says so (a notice) and waits `pace_seconds` before the next request, so a long load spreads over
    the hour instead of running into the wall."""

    reserve: int
    pace_seconds: float
    sleep: Callable[[float], None] = time.sleep
    last: dict[str, int] = field(default_factory=dict)
    slow: bool = False

    def observe(self, property_quota: dict[str, Any] | None) -> None:
        if not property_quota:
            return
        self.last = {name: int((status or {}).get("remaining", 0)) for name, status in property_quota.items()}
        hourly = min(
            self.last.get("tokensPerHour", self.reserve),
            self.last.get("tokensPerProjectPerHour", self.reserve),
        )
        self.slow = hourly < self.reserve
        if self.slow:
            notice(
                SOURCE,
                "quota_low",
                f"GA4 hourly tokens are running low (below the reserve of {self.reserve:,}); the load "
                f"waits {self.pace_seconds:g}s between requests",
                table="daily_traffic",
                tokens_per_hour_remaining=hourly,
            )

    def before_request(self) -> None:
        if self.slow and self.pace_seconds > 0:
            log.info("ga4: pacing %.1fs (hourly tokens low)", self.pace_seconds)
            self.sleep(self.pace_seconds)


def ga4_client(
    property_id: str,
    api_url: str,
    access_token: str = "",
    credentials_file: str = "",
    credentials_variable: str = "GA4_CREDENTIALS_FILE",
    **http: Any,
) -> ApiClient:
    """The shared client with the GA4 credentials (a service account when a key file is given, else the
    fixed token) and the quota guard. The key file is read on the first request, not here, so a source
    can be built (for its schema) without credentials."""
    fatal = quota_guard(property_id)
    if credentials_file:
        auth = ServiceAccountAuth(
            credentials_file, credentials_variable, backoff=float(http.get("backoff", 1.0))
        )
        return ApiClient(source=SOURCE, base_url=api_url, fatal=fatal, auth=auth, **http)
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return ApiClient(source=SOURCE, base_url=api_url, fatal=fatal, headers=headers, **http)
