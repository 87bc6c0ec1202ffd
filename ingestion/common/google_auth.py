"""Bearer tokens from google-auth credentials, for the shared `ApiClient` (GA4's service account,
Google Ads' OAuth refresh token).

`headers()` mints a token when google-auth says the current one is no longer valid (none yet, or
within minutes of its expiry); `refresh()` forgets it after a 401 so the next call mints again. A
token endpoint that answers 5xx or cannot be reached is retried with backoff; a refusal is raised at
once as the subclass's error, which says which variable to fix.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import google.auth.exceptions
from google.auth.transport.requests import Request as GoogleRequest

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class GoogleTokenAuth:
    """`Auth` over google-auth credentials. Subclasses build the credentials (`build`) and word the
    refusal (`refused`) and the unreachable endpoint (`unreachable`)."""

    attempts: int = 3  # token endpoint unreachable or 5xx: tries before giving up
    backoff: float = 1.0  # first wait between them, doubled each time
    sleep: Callable[[float], None] = time.sleep
    minted: int = field(default=0, init=False)
    _credentials: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def build(self) -> Any:
        raise NotImplementedError

    def refused(self, reason: str) -> Exception:
        raise NotImplementedError

    def unreachable(self, attempts: int, exc: Exception) -> Exception:
        raise NotImplementedError

    def minted_for(self) -> str:
        """Who the token is for, in the log line (never the token)."""
        return "the configured credentials"

    @property
    def credentials(self) -> Any:
        if self._credentials is None:
            self._credentials = self.build()
        return self._credentials

    def headers(self) -> dict[str, str]:
        with self._lock:
            credentials = self.credentials
            if not credentials.valid:
                self._mint(credentials)
            return {"Authorization": f"Bearer {credentials.token}"}

    def refresh(self) -> None:
        """Forget the token: the next `headers()` mints a new one."""
        with self._lock:
            if self._credentials is not None:
                self._credentials.token = None

    def _mint(self, credentials: Any) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                credentials.refresh(GoogleRequest())
            except google.auth.exceptions.RefreshError as exc:
                if exc.retryable and attempt < self.attempts:  # a 5xx google-auth did not outlast
                    self.sleep(min(self.backoff * 2 ** (attempt - 1), 30.0))
                    continue
                raise self.refused(str(exc.args[0] if exc.args else exc)) from None
            except google.auth.exceptions.TransportError as exc:
                if attempt == self.attempts:
                    raise self.unreachable(attempt, exc) from exc
                self.sleep(min(self.backoff * 2 ** (attempt - 1), 30.0))
            else:
                self.minted += 1
                log.info(
                    "minted an access token for %s (expires %s UTC)", self.minted_for(), credentials.expiry
                )
                return
