"""Google Ads API calls: `googleAds:searchStream` with GAQL over REST, through the shared `ApiClient`
(retries, backoff, a 401 refreshes the token once), with OAuth user credentials from google-auth.

Errors said as what to do: a sunset API version (Google's front end answers a bare HTTP 404), a spent
daily operations quota (429 RESOURCE_EXHAUSTED: stop, do not retry until the quota resets), a refused
refresh token, a customer the user cannot reach. A short-term 429 (RESOURCE_TEMPORARILY_EXHAUSTED) and
5xx are retried with backoff.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from google.oauth2.credentials import Credentials

from ingestion.common.google_auth import GoogleTokenAuth
from ingestion.common.http import ApiClient, SourceAPIError

log = logging.getLogger(__name__)

SOURCE = "google_ads"
SCOPE = "https://www.googleapis.com/auth/adwords"


class GoogleAdsCredentialsError(ValueError):
    """The OAuth client or refresh token was refused; the message says which variable to fix."""


class GoogleAdsVersionError(RuntimeError):
    """The configured API version is not served (sunset or not yet released)."""


class GoogleAdsQuotaExhausted(RuntimeError):
    """The daily operations quota of the Cloud project's access level is spent: retrying cannot help."""


def ads_error(text: str) -> tuple[str | None, str | None, str]:
    """(error kind, error code, message) of a Google Ads error body, e.g. ("authenticationError",
    "OAUTH_TOKEN_EXPIRED", "..."); Nones when the body is not one."""
    try:
        payload = json.loads(text)
    except ValueError:
        return None, None, text[:300]
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, None, text[:300]
    for detail in error.get("details") or []:
        for item in detail.get("errors") or []:
            for kind, code in (item.get("errorCode") or {}).items():
                return kind, code, str(item.get("message") or error.get("message") or "")
    return None, error.get("status"), str(error.get("message") or "")


@dataclass
class RefreshTokenAuth(GoogleTokenAuth):
    """`Auth` for the shared client: google-auth's user credentials (client id/secret + refresh token)
    mint a bearer token, again when it is about to expire or after a 401."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    token_uri: str

    def build(self) -> Credentials:
        return Credentials(
            token=None, refresh_token=self.refresh_token, client_id=self.client_id,
            client_secret=self.client_secret, token_uri=self.token_uri, scopes=[SCOPE],
        )  # fmt: skip

    def minted_for(self) -> str:
        return "google_ads (adwords scope)"

    def refused(self, reason: str) -> Exception:
        return GoogleAdsCredentialsError(
            f"the token endpoint {self.token_uri} refused the OAuth client GOOGLE_ADS_CLIENT_ID with "
            f"GOOGLE_ADS_REFRESH_TOKEN: {reason}. A refresh token is revoked when the user removes the "
            "app's access or changes the password, and expires after 7 days while the OAuth consent screen "
            "is in 'Testing': create a new one (docs/sources.md#google-ads)"
        )

    def unreachable(self, attempts: int, exc: Exception) -> Exception:
        return GoogleAdsCredentialsError(
            f"the token endpoint {self.token_uri} could not be reached after {attempts} attempt(s) "
            f"({type(exc).__name__}); check the network or GOOGLE_ADS_TOKEN_URI"
        )


def fatal_guard(api_version: str) -> Callable[[requests.Response], Exception | None]:
    """`ApiClient.fatal`: what no retry can fix."""

    def fatal(response: requests.Response) -> Exception | None:
        if response.status_code == 404 and not response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            return GoogleAdsVersionError(
                f"Google Ads answered HTTP 404 for {response.url.split('?')[0]}: API {api_version} is not served "
                "(Google sunsets each version about a year after release). Set GOOGLE_ADS_API_VERSION to a "
                "served version, or unset it for the connector's default."
            )
        if response.status_code == 429:
            kind, code, message = ads_error(response.text)
            if code == "RESOURCE_EXHAUSTED":
                return GoogleAdsQuotaExhausted(
                    f"Google Ads: the daily operations quota of the Cloud project's access level is spent "
                    f"({message}); stopped instead of retrying. Nothing more loads until the quota resets at "
                    "midnight Pacific time; the next run re-pulls the window. A higher access level (Basic: "
                    "15,000 operations a day) is applied for on the project's Google Ads API page."
                )
        return None

    return fatal


@dataclass
class GoogleAdsClient:
    api_url: str
    api_version: str
    customer_id: str
    auth: Any
    developer_token: str = ""
    login_customer_id: str = ""
    max_attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 60.0
    timeout: float = 120.0
    http: ApiClient = field(init=False)

    def __post_init__(self) -> None:
        self.customer_id = self.customer_id.replace("-", "")
        headers = {"Content-Type": "application/json"}
        if self.developer_token:  # optional since 2026-09-09; Google ignores it
            headers["developer-token"] = self.developer_token
        if self.login_customer_id:
            headers["login-customer-id"] = self.login_customer_id.replace("-", "")
        self.http = ApiClient(
            source=SOURCE, base_url=self.api_url, headers=headers, max_attempts=self.max_attempts,
            backoff=self.backoff, max_wait=self.max_wait, timeout=self.timeout,
            fatal=fatal_guard(self.api_version), auth=self.auth,
        )  # fmt: skip

    def search_stream(self, query: str) -> Iterator[list[dict[str, Any]]]:
        """The rows of a GAQL query, one list per streamed batch (nested, camelCase, int64 as strings)."""
        path = f"{self.api_version}/customers/{self.customer_id}/googleAds:searchStream"
        try:
            batches = self.http.request_json("POST", path, data=json.dumps({"query": query}))
        except SourceAPIError as exc:
            raise explain(exc, self.customer_id, self.login_customer_id) from exc
        for batch in batches or []:
            yield batch.get("results") or []


def explain(exc: SourceAPIError, customer_id: str, login_customer_id: str) -> Exception:
    """Google Ads' 401/403/400 said as what to do (others unchanged)."""
    kind, code, message = ads_error(exc.detail)
    if exc.status == 401:
        return GoogleAdsCredentialsError(
            f"Google Ads refused a freshly minted token ({code}: {message}): is the Google Ads API enabled in "
            f"the OAuth client's Cloud project, and was the refresh token made for the adwords scope? [{exc}]"
        )
    if exc.status == 403:
        via = (
            f" through manager {login_customer_id} (GOOGLE_ADS_LOGIN_CUSTOMER_ID)"
            if login_customer_id
            else ""
        )
        return GoogleAdsCredentialsError(
            f"the Google user of GOOGLE_ADS_REFRESH_TOKEN may not read customer {customer_id}{via} ({code}: "
            f"{message}); give the user access to the account, or set GOOGLE_ADS_LOGIN_CUSTOMER_ID to the "
            f"manager account it is reached through [{exc}]"
        )
    if exc.status == 400 and code:
        return SourceAPIError(
            exc.source, "POST", exc.endpoint, exc.attempts, exc.status, f"{kind} {code}: {message}"
        )
    return exc
