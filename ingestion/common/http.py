"""One HTTP client for every vendor connector: retries with backoff that honour Retry-After, and an error
that names the source, endpoint, status and the last response body when the retry budget is spent.

Why not urllib3's Retry alone: vendors signal throttling in the body too (Shopify `THROTTLED` with HTTP 200,
Meta error codes 17/613 with HTTP 400), and a truncated JSON page must be retried like a 5xx.

Expiring credentials (Shopify's client-credentials tokens, Google service-account tokens) plug in as an
`Auth`: its headers are asked for on every attempt, and a 401 makes the client call `refresh()` and try
again once; a second 401 in a row is reported, not retried.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class SourceAPIError(RuntimeError):
    """The retry budget is spent; the message says which source, endpoint, status and body."""

    def __init__(
        self, source: str, method: str, endpoint: str, attempts: int, status: int | None, detail: str
    ):
        self.source, self.endpoint, self.status, self.attempts = source, endpoint, status, attempts
        self.detail = detail  # the vendor's answer (response body) or the transport error, as it came
        where = f"HTTP {status}" if status is not None else "no HTTP response"
        super().__init__(
            f"{source}: {method} {endpoint} failed after {attempts} attempt(s): {where}: {detail[:500]}"
        )


class Auth(Protocol):
    """Credentials that can expire: `headers()` gives current ones (minting a token when there is none
    or it is about to expire); `refresh()` forgets the current token so the next `headers()` mints one."""

    def headers(self) -> dict[str, str]: ...

    def refresh(self) -> None: ...


@dataclass
class ApiClient:
    """`request_json` with retries. `throttled(response, payload)` may return seconds to wait for
    vendor-specific throttling signalled in the body (or None when the payload is fine); `fatal(response)`
    may return an exception to raise at once instead of retrying. `auth` adds expiring credentials to the
    static `headers` (see `Auth`)."""

    source: str
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    max_attempts: int = 6
    backoff: float = 0.5  # first wait, doubled each attempt
    max_wait: float = 30.0
    timeout: float = 30.0
    throttled: Callable[[requests.Response, Any], float | None] | None = None
    # a response that retrying cannot help (a spent daily quota): the exception to raise instead
    fatal: Callable[[requests.Response], Exception | None] | None = None
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    auth: Auth | None = None
    # the last successful response (its headers: served API version, quota usage); not a constructor field
    last_response: requests.Response | None = field(default=None, init=False, repr=False)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    def request_json(self, method: str, path: str, **kwargs) -> Any:
        url = self.url(path)
        endpoint = url.split("?")[0]
        status: int | None = None
        detail = ""
        refreshed = False
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            wait = min(self.backoff * 2 ** (attempt - 1), self.max_wait)
            headers = {**self.headers, **(self.auth.headers() if self.auth else {})}
            try:
                resp = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                status, detail = None, f"{type(exc).__name__}: {exc}"
            else:
                status, detail = resp.status_code, resp.text
                if self.fatal is not None and (error := self.fatal(resp)) is not None:
                    raise error
                if resp.status_code == 401 and self.auth is not None and not refreshed:
                    # an expired or revoked token: mint a new one and try again once, without backoff
                    log.info("%s: %s %s answered 401; refreshing credentials", self.source, method, endpoint)
                    self.auth.refresh()
                    refreshed = True
                    attempt -= 1
                    continue
                if resp.status_code in RETRY_STATUSES:
                    retry_after = resp.headers.get("Retry-After")
                    if retry_after:
                        # seconds form; an HTTP-date form falls back to exponential backoff
                        with contextlib.suppress(ValueError):
                            wait = min(float(retry_after), self.max_wait)
                elif resp.ok or self.throttled is not None:
                    try:
                        payload = resp.json()
                    except ValueError:
                        detail = f"malformed JSON body: {resp.text[:200]}"
                    else:
                        extra = self.throttled(resp, payload) if self.throttled else None
                        if extra is None and resp.ok:
                            self.last_response = resp
                            return payload
                        if extra is not None:
                            wait = min(max(extra, wait), self.max_wait)
                        elif not resp.ok:
                            raise SourceAPIError(self.source, method, endpoint, attempt, status, detail)
                else:
                    raise SourceAPIError(self.source, method, endpoint, attempt, status, detail)
            if attempt < self.max_attempts:
                log.warning(
                    "%s: %s %s attempt %d/%d failed (%s); retrying in %.1fs",
                    self.source,
                    method,
                    endpoint,
                    attempt,
                    self.max_attempts,
                    status or detail[:80],
                    wait,
                )
                self.sleep(wait)
        raise SourceAPIError(self.source, method, endpoint, self.max_attempts, status, detail)
