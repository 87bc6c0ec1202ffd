"""Graph API calls for the Meta connector: cursor paging over `paging.next`, async insights report runs
with a sync fallback, and Meta's body-signalled throttling (error codes 17/613/80000…) retried through
the shared `ApiClient`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import requests

from ingestion.common.http import ApiClient, SourceAPIError

log = logging.getLogger(__name__)

SOURCE = "meta_ads"
# rate limiting: app (4), user (17), page (32), API/ad-account (613), business use case (800xx)
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80000, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80014})
TRANSIENT_CODES = frozenset({1, 2})  # "unknown error" / "service temporarily unavailable"
INSIGHT_FIELDS = (
    "date_start", "date_stop", "account_id", "campaign_id", "campaign_name", "adset_id", "ad_id",
    "ad_name", "spend", "impressions", "clicks", "reach", "actions", "action_values",
)  # fmt: skip
ATTRIBUTION_WINDOWS = ("7d_click", "1d_view")
JOB_DONE, JOB_FAILED = "Job Completed", ("Job Failed", "Job Skipped")


def regain_seconds(headers: requests.structures.CaseInsensitiveDict) -> float:
    """Seconds Meta asks us to wait, from `x-business-use-case-usage` (minutes per business use case)."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return 0.0
    try:
        usage = json.loads(raw)
    except ValueError:
        return 0.0
    minutes = [
        float(entry.get("estimated_time_to_regain_access") or 0)
        for entries in usage.values()
        for entry in (entries if isinstance(entries, list) else [])
    ]
    return 60.0 * max(minutes, default=0.0)


def meta_throttled(response: requests.Response, payload: Any) -> float | None:
    """`ApiClient.throttled` hook: seconds to wait when the body reports throttling, else None."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    if code in THROTTLE_CODES or code in TRANSIENT_CODES or error.get("is_transient") is True:
        return regain_seconds(response.headers)
    return None


class MetaGraphClient:
    """Thin Graph API client bound to one ad account and API version."""

    def __init__(
        self,
        *,
        api_url: str,
        api_version: str,
        access_token: str,
        ad_account_id: str,
        page_size: int = 500,
        max_attempts: int = 6,
        backoff: float = 1.0,
        max_wait: float = 300.0,
        timeout: float = 60.0,
        poll_interval: float = 1.0,
        async_timeout: float = 1800.0,
        job_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.version = api_version
        self.account = ad_account_id if ad_account_id.startswith("act_") else f"act_{ad_account_id}"
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.async_timeout = async_timeout
        self.job_attempts = job_attempts
        self.sleep = sleep
        # the token travels in a header, never in URLs that could end up in logs or error messages
        self.http = ApiClient(
            source=SOURCE,
            base_url=api_url,
            headers={"Authorization": f"Bearer {access_token}"},
            max_attempts=max_attempts,
            backoff=backoff,
            max_wait=max_wait,
            timeout=timeout,
            throttled=meta_throttled,
            sleep=sleep,
        )

    def _path(self, *parts: str) -> str:
        return "/".join((self.version, *parts))

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Follow `paging.next` (a full URL, absent on the last page) and yield each page's `data`."""
        payload = self.http.request_json("GET", path, params=params)
        while True:
            yield payload.get("data", [])
            next_url = (payload.get("paging") or {}).get("next")
            if not next_url:
                return
            payload = self.http.request_json("GET", next_url)

    def edge(self, edge: str, fields: str) -> Iterator[list[dict[str, Any]]]:
        """All objects of an ad account edge (campaigns, adsets, ads)."""
        yield from self.pages(self._path(self.account, edge), {"fields": fields, "limit": self.page_size})

    def insight_params(self, since: date, until: date) -> dict[str, str]:
        return {
            "level": "ad",
            "time_increment": "1",
            "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            "fields": ",".join(INSIGHT_FIELDS),
            "action_attribution_windows": json.dumps(list(ATTRIBUTION_WINDOWS)),
            "limit": str(self.page_size),
        }

    def insights(self, since: date, until: date, use_async: bool = True) -> Iterator[list[dict[str, Any]]]:
        """Daily ad-level insights for [since, until]: an async report run, or sync paging as fallback."""
        params = self.insight_params(since, until)
        if use_async:
            for attempt in range(1, self.job_attempts + 1):
                run_id = self._start_report(params)
                status = self._wait_for_report(run_id)
                if status == JOB_DONE:
                    yield from self.pages(self._path(run_id, "insights"), {"limit": self.page_size})
                    return
                log.warning(
                    "meta_ads: report run %s for %s..%s ended %r (attempt %d/%d)",
                    run_id, since, until, status, attempt, self.job_attempts,
                )  # fmt: skip
            log.warning(
                "meta_ads: async report runs keep failing for %s..%s; paging synchronously", since, until
            )
        yield from self.pages(self._path(self.account, "insights"), params)

    def _start_report(self, params: dict[str, str]) -> str:
        payload = self.http.request_json("POST", self._path(self.account, "insights"), data=params)
        run_id = payload.get("report_run_id") if isinstance(payload, dict) else None
        if not run_id:
            raise SourceAPIError(
                SOURCE, "POST", self.http.url(self._path(self.account, "insights")), 1, 200,
                f"no report_run_id in response: {json.dumps(payload)[:300]}",
            )  # fmt: skip
        return str(run_id)

    def _wait_for_report(self, run_id: str) -> str:
        """Poll `async_status` until the job completes or fails; raise when it outlives the timeout."""
        deadline = time.monotonic() + self.async_timeout
        wait = self.poll_interval
        while True:
            status = self.http.request_json("GET", self._path(run_id))
            state = status.get("async_status")
            log.info(
                "meta_ads: report run %s %s (%s%%)", run_id, state, status.get("async_percent_completion")
            )
            if state == JOB_DONE or state in JOB_FAILED:
                return state
            if time.monotonic() > deadline:
                raise SourceAPIError(
                    SOURCE, "GET", self.http.url(self._path(run_id)), 1, 200,
                    f"report run still {state!r} after {self.async_timeout:.0f}s",
                )  # fmt: skip
            self.sleep(wait)
            wait = min(wait * 1.5, 30.0)


def day_chunks(since: date, until: date, chunk_days: int) -> Iterator[tuple[date, date]]:
    """[since, until] split into inclusive windows of at most `chunk_days` days (0 = one window)."""
    if chunk_days <= 0:
        yield since, until
        return
    start = since
    while start <= until:
        end = min(start + timedelta(days=chunk_days - 1), until)
        yield start, end
        start = end + timedelta(days=1)
