"""Admin API access tokens for a Dev Dashboard app, by Shopify's client-credentials grant.

Why: since 2026-01-01 the Shopify admin no longer creates custom apps with a permanent token; an app
from the Dev Dashboard, installed on the brand's own shop, exchanges its client id and secret at the
shop's `POST /admin/oauth/access_token` (`grant_type=client_credentials`) for a token that expires
after about 24 hours (`expires_in` ~86399 s). A nightly load must therefore mint its own token, keep it
while it is valid, and mint again shortly before it expires or when Shopify answers 401 mid-load
(`ClientCredentialsAuth` is an `ingestion.common.http.Auth`: the shared client asks `headers()` on
every attempt and calls `refresh()` after a 401).

A refused exchange (wrong secret, app not installed, wrong shop) fails at once with Shopify's OAuth
error (`invalid_client: …`) and what to check; the secret travels only in the form body and appears
in no message or log line.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ingestion.common.http import ApiClient, SourceAPIError

log = logging.getLogger(__name__)

SOURCE = "shopify"
TOKEN_PATH = "admin/oauth/access_token"
REFRESH_MARGIN = 300.0  # seconds before expiry when a token is re-minted (or a tenth of a short lifetime)
REFUSED = frozenset({400, 401, 403, 404})  # the exchange itself is wrong: retrying cannot help


class ShopifyAuthError(SourceAPIError):
    """Shopify refused the client-credentials exchange: its OAuth `error` and `error_description`, and
    which variables to check. Never carries the secret."""


@dataclass(frozen=True)
class AccessToken:
    value: str
    scopes: tuple[str, ...]  # the `scope` Shopify granted with the token (comma-separated on the wire)
    expires_in: float | None  # seconds, as answered; None = Shopify gave no expiry
    refresh_at: float | None  # clock time after which the token is re-minted before use


def _shopify_error(body: str) -> str:
    """`invalid_client: <description>` from Shopify's OAuth error body, else the body as it came."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body.strip()[:300]
    if isinstance(payload, dict) and payload.get("error"):
        description = payload.get("error_description")
        return f"{payload['error']}: {str(description).rstrip('.')}" if description else str(payload["error"])
    if isinstance(payload, dict) and payload.get("errors"):
        return str(payload["errors"])
    return body.strip()[:300]


def _hint(status: int | None) -> str:
    if status == 404:
        return (
            "no token endpoint there: SHOPIFY_API_URL must be the shop's https://<shop>.myshopify.com address"
        )
    return (
        "check SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET (the app's Settings page in the Dev Dashboard), "
        "that the app is installed on this shop, and that it belongs to the shop's organization"
    )


class ClientCredentialsAuth:
    """Mints, caches and re-mints the shop's access token (thread-safe: dlt may extract in threads)."""

    def __init__(
        self,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        max_attempts: int = 6,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self.minted = 0  # tokens minted by this instance (a re-mint mid-load shows here)
        # 429/5xx/dropped connections on the token endpoint are retried like any other call
        self.http = ApiClient(
            source=SOURCE,
            base_url=api_url,
            headers={"Accept": "application/json"},
            max_attempts=max_attempts,
            backoff=backoff,
            max_wait=max_wait,
            timeout=timeout,
            sleep=sleep,
        )

    # -- ingestion.common.http.Auth ----------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        return {"X-Shopify-Access-Token": self.token().value}

    def refresh(self) -> None:
        with self._lock:
            self._token = None

    # ------------------------------------------------------------------------------------------------
    def token(self) -> AccessToken:
        """The current token, minted first when there is none or it is about to expire."""
        with self._lock:
            token = self._token
            if token is None or (token.refresh_at is not None and self._clock() >= token.refresh_at):
                if token is not None:
                    log.info("shopify: access token expires soon; minting a new one")
                token = self._token = self._mint()
            return token

    def _mint(self) -> AccessToken:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        try:
            payload = self.http.request_json("POST", TOKEN_PATH, data=form)
        except SourceAPIError as exc:
            if exc.status not in REFUSED:
                raise
            body = exc.detail  # Shopify's OAuth error body
            raise ShopifyAuthError(
                SOURCE,
                "POST",
                exc.endpoint,
                1,
                exc.status,
                f"client-credentials token exchange refused: {_shopify_error(body)}; {_hint(exc.status)}",
            ) from None
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise ShopifyAuthError(
                SOURCE, "POST", self.http.url(TOKEN_PATH), 1, 200,
                "client-credentials token exchange answered without an access_token",
            )  # fmt: skip
        expires_in = payload.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else None
        now = self._clock()
        refresh_at = None if lifetime is None else now + lifetime - min(REFRESH_MARGIN, lifetime / 10)
        scopes = tuple(s.strip() for s in str(payload.get("scope") or "").split(",") if s.strip())
        self.minted += 1
        log.info(
            "shopify: minted an access token by the client-credentials grant (expires in %s, scopes %s)",
            "never" if lifetime is None else f"{lifetime / 3600:.1f} h",
            ",".join(scopes) or "none reported",
        )
        return AccessToken(token, scopes, lifetime, refresh_at)
