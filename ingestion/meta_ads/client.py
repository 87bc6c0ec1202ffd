"""Graph API calls for the Meta connector: cursor paging over `paging.next`, object edges that include
archived and deleted objects, async insights report runs that split when Meta gives up on them, and
Meta's body-signalled throttling (error codes 17/613/80000…) retried through the shared `ApiClient`.

Why the status filters: without `effective_status`, Meta leaves ARCHIVED and DELETED campaigns, ad sets
and ads out of the account's edges, and `level=ad` account insights leave out DELETED ads, while the
spend of those objects is part of the account's history. A warehouse that reads only live objects has
insights rows whose campaign it does not know, and loses the spend of deleted ads altogether.

Why report runs split: Meta fails (or never finishes) an async report that asks for too much data at
once. Resubmitting the same run fails the same way, so a failed or timed-out run is split: its window
in halves down to one day, then that day by campaign (`filtering` on `campaign.id`: halves of the
account's campaigns, plus one run for any campaign not in the list). Each piece covers its own
(ad, day) rows, so the pieces together load exactly the rows the whole run would have. Only a piece
that cannot be split further is paged synchronously.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import requests

from ingestion.common.http import ApiClient, SourceAPIError
from ingestion.common.notices import notice

log = logging.getLogger(__name__)

SOURCE = "meta_ads"
# rate limiting: app (4), user (17), page (32), API/ad-account (613), business use case (800xx)
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80000, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80014})
TRANSIENT_CODES = frozenset({1, 2})  # "unknown error" / "service temporarily unavailable"
DEPRECATED_VERSION_CODE = 2635  # "You are calling a deprecated version of the Ads API"
VERSION_IN_URL = re.compile(r"/(v\d+\.\d+)/")
INSIGHT_FIELDS = (
    "date_start", "date_stop", "account_id", "campaign_id", "campaign_name", "adset_id", "ad_id",
    "ad_name", "spend", "impressions", "clicks", "reach", "actions", "action_values",
)  # fmt: skip
ATTRIBUTION_WINDOWS = ("7d_click", "1d_view")
# every `effective_status` each object type can have (facebook_business 26.x Campaign/AdSet/Ad
# .EffectiveStatus; tests/contracts checks the lists stay complete): live, archived and deleted alike
EFFECTIVE_STATUSES: dict[str, tuple[str, ...]] = {
    "campaigns": ("ACTIVE", "PAUSED", "ARCHIVED", "DELETED", "IN_PROCESS", "WITH_ISSUES"),
    "adsets": ("ACTIVE", "PAUSED", "CAMPAIGN_PAUSED", "ARCHIVED", "DELETED", "IN_PROCESS", "WITH_ISSUES"),
    "ads": (
        "ACTIVE", "PAUSED", "ADSET_PAUSED", "CAMPAIGN_PAUSED", "ARCHIVED", "DELETED", "IN_PROCESS",
        "WITH_ISSUES", "DISAPPROVED", "PENDING_REVIEW", "PREAPPROVED", "PENDING_BILLING_INFO",
    ),
}  # fmt: skip
JOB_DONE, JOB_FAILED = "Job Completed", ("Job Failed", "Job Skipped")
# what a report run poll asks for; since v25.0 a failed run says why in error_code / error_message
REPORT_RUN_FIELDS = ("id", "async_status", "async_percent_completion")
REPORT_RUN_ERROR_FIELDS = ("error_code", "error_message")

Scope = tuple[str, tuple[str, ...]]  # ("IN" | "NOT_IN", campaign ids) of a report run's campaign.id filter


class MetaVersionError(SourceAPIError):
    """Meta no longer serves the configured Graph API version (error 2635); not worth a retry."""

    def __init__(self, method: str, endpoint: str, status: int, reason: str) -> None:
        self.reason = reason
        super().__init__(SOURCE, method, endpoint, 1, status, reason)


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


def graph_error(payload: Any) -> dict[str, Any] | None:
    """The `error` object of a Graph API response body, when there is one."""
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else None


def meta_throttled(response: requests.Response, payload: Any) -> float | None:
    """`ApiClient.throttled` hook: seconds to wait when the body reports throttling, else None.

    A deprecated API version (error 2635) raises `MetaVersionError` at once: it is not transient, and
    the message tells which setting to change."""
    error = graph_error(payload)
    if error is None:
        return None
    code = error.get("code")
    if code == DEPRECATED_VERSION_CODE:
        found = VERSION_IN_URL.search(response.url)
        version = found.group(1) if found else "?"
        raise MetaVersionError(
            response.request.method or "GET",
            response.url.split("?")[0],
            response.status_code,
            f"Meta no longer serves Graph API {version} (META_API_VERSION): {error.get('message')} "
            "Set META_API_VERSION to a supported version, or unset it for the connector's default.",
        )
    if code in THROTTLE_CODES or code in TRANSIENT_CODES or error.get("is_transient") is True:
        return regain_seconds(response.headers)
    return None


@dataclass(frozen=True)
class ReportOutcome:
    """How a report run ended: `Job Completed`, failed/skipped (with Meta's error fields), or timed out."""

    run_id: str
    status: str
    error_code: Any = None
    error_message: str | None = None

    @property
    def done(self) -> bool:
        return self.status == JOB_DONE

    def describe(self) -> str:
        if self.error_code is None and not self.error_message:
            return repr(self.status)
        return f"{self.status!r} (error_code {self.error_code}: {self.error_message})"


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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.version = api_version
        self.account = ad_account_id if ad_account_id.startswith("act_") else f"act_{ad_account_id}"
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.async_timeout = async_timeout
        self.sleep = sleep
        self._campaign_ids: tuple[str, ...] | None = None
        self._version_checked = False
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

    def get(self, *parts: str, **params: Any) -> Any:
        """One GET of a node or edge under the configured version (e.g. `get("me", fields="id,name")`)."""
        return self.http.request_json("GET", self._path(*parts), params=params or None)

    def served_version(self) -> str | None:
        """The version Meta says served the last call (`facebook-api-version`), when it says."""
        response = self.http.last_response
        return response.headers.get("facebook-api-version") if response is not None else None

    def _note_served_version(self) -> None:
        """Once per client: a notice when Meta served another version than the one configured."""
        if self._version_checked:
            return
        self._version_checked = True
        served = self.served_version()
        if served and served != self.version:
            notice(
                SOURCE, "api_version_mismatch",
                f"requested Graph API {self.version} but Meta served {served}: set META_API_VERSION to a "
                "supported version",
                requested=self.version, served=served,
            )  # fmt: skip

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Follow `paging.next` (a full URL, absent on the last page) and yield each page's `data`."""
        payload = self.http.request_json("GET", path, params=params)
        self._note_served_version()
        while True:
            yield payload.get("data", [])
            next_url = (payload.get("paging") or {}).get("next")
            if not next_url:
                return
            payload = self.http.request_json("GET", next_url)

    def edge_params(self, edge: str, fields: str) -> dict[str, Any]:
        """Parameters of an ad account edge read: every status, so archived and deleted objects come too."""
        return {
            "fields": fields,
            "effective_status": json.dumps(list(EFFECTIVE_STATUSES[edge])),
            "limit": self.page_size,
        }

    def edge(self, edge: str, fields: str) -> Iterator[list[dict[str, Any]]]:
        """All objects of an ad account edge (campaigns, adsets, ads), whatever their status."""
        yield from self.pages(self._path(self.account, edge), self.edge_params(edge, fields))

    def campaign_ids(self) -> tuple[str, ...]:
        """Every campaign id of the account (read once, when a report run first needs splitting by campaign)."""
        if self._campaign_ids is None:
            self._campaign_ids = tuple(str(c["id"]) for page in self.edge("campaigns", "id") for c in page)
        return self._campaign_ids

    def insight_params(self, since: date, until: date, scope: Scope | None = None) -> dict[str, str]:
        filtering: list[dict[str, Any]] = [
            # level=ad account insights omit deleted ads unless the filter asks for them
            {"field": "ad.effective_status", "operator": "IN", "value": list(EFFECTIVE_STATUSES["ads"])}
        ]
        if scope is not None:
            filtering.append({"field": "campaign.id", "operator": scope[0], "value": list(scope[1])})
        return {
            "level": "ad",
            "time_increment": "1",
            "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            "fields": ",".join(INSIGHT_FIELDS),
            "action_attribution_windows": json.dumps(list(ATTRIBUTION_WINDOWS)),
            "filtering": json.dumps(filtering),
            "limit": str(self.page_size),
        }

    def insights(self, since: date, until: date, use_async: bool = True) -> Iterator[list[dict[str, Any]]]:
        """Daily ad-level insights for [since, until]: async report runs (split when Meta fails them),
        or synchronous paging when `use_async` is off."""
        if not use_async:
            yield from self.pages(self._path(self.account, "insights"), self.insight_params(since, until))
            return
        yield from self._report(since, until, None)

    def _report(self, since: date, until: date, scope: Scope | None) -> Iterator[list[dict[str, Any]]]:
        params = self.insight_params(since, until, scope)
        outcome = self._run_report(params)
        if outcome.done:
            yield from self.pages(self._path(outcome.run_id, "insights"), {"limit": self.page_size})
            return
        where = f"{since}..{until}" + (f" ({_scope_text(scope)})" if scope else "")
        if until > since:
            mid = since + timedelta(days=(until - since).days // 2)
            log.warning(
                "meta_ads: report run %s for %s ended %s; splitting into %s..%s and %s..%s",
                outcome.run_id, where, outcome.describe(), since, mid, mid + timedelta(days=1), until,
            )  # fmt: skip
            yield from self._report(since, mid, scope)
            yield from self._report(mid + timedelta(days=1), until, scope)
            return
        parts = self._narrower(scope)
        if parts:
            log.warning(
                "meta_ads: report run %s for %s ended %s; splitting by campaign into %s",
                outcome.run_id, where, outcome.describe(), "; ".join(_scope_text(p) for p in parts),
            )  # fmt: skip
            for part in parts:
                yield from self._report(since, until, part)
            return
        notice(
            SOURCE, "report_run_failed",
            f"async report run {outcome.run_id} for {where} ended {outcome.describe()} and cannot be split "
            "further; paging it synchronously",
            table="ads_insights", since=since.isoformat(), until=until.isoformat(),
            error_code=outcome.error_code, error_message=outcome.error_message,
        )  # fmt: skip
        yield from self.pages(self._path(self.account, "insights"), params)

    def _narrower(self, scope: Scope | None) -> list[Scope]:
        """The campaign scopes one day's failed run splits into ([] = cannot split further)."""
        if scope is None:
            ids = self.campaign_ids()
            if not ids:
                return []
            half = (len(ids) + 1) // 2
            halves = [ids[:half], ids[half:]] if len(ids) > 1 else [ids]
            # NOT_IN: campaigns created after the list was read, so no (ad, day) row is left out
            return [("IN", part) for part in halves] + [("NOT_IN", ids)]
        operator, ids = scope
        if operator != "IN" or len(ids) < 2:
            return []
        half = len(ids) // 2
        return [("IN", ids[:half]), ("IN", ids[half:])]

    def _run_report(self, params: dict[str, str]) -> ReportOutcome:
        payload = self.http.request_json("POST", self._path(self.account, "insights"), data=params)
        run_id = payload.get("report_run_id") if isinstance(payload, dict) else None
        if not run_id:
            raise SourceAPIError(
                SOURCE, "POST", self.http.url(self._path(self.account, "insights")), 1, 200,
                f"no report_run_id in response: {json.dumps(payload)[:300]}",
            )  # fmt: skip
        return self._wait_for_report(str(run_id))

    def report_run_fields(self) -> str:
        """The report run fields to poll: the error fields only where the version has them (v25.0+)."""
        found = re.match(r"v(\d+)\.", self.version)
        has_errors = found is not None and int(found.group(1)) >= 25
        return ",".join(REPORT_RUN_FIELDS + (REPORT_RUN_ERROR_FIELDS if has_errors else ()))

    def _wait_for_report(self, run_id: str) -> ReportOutcome:
        """Poll `async_status` until the run completes, fails or outlives `async_timeout`."""
        deadline = time.monotonic() + self.async_timeout
        wait = self.poll_interval
        fields = self.report_run_fields()
        while True:
            status = self.http.request_json("GET", self._path(run_id), params={"fields": fields})
            state = status.get("async_status")
            log.info(
                "meta_ads: report run %s %s (%s%%)", run_id, state, status.get("async_percent_completion")
            )
            if state == JOB_DONE or state in JOB_FAILED:
                return ReportOutcome(run_id, state, status.get("error_code"), status.get("error_message"))
            if time.monotonic() > deadline:
                return ReportOutcome(run_id, f"still {state} after {self.async_timeout:g}s")
            self.sleep(wait)
            wait = min(wait * 1.5, 30.0)


def _scope_text(scope: Scope | None) -> str:
    if scope is None:
        return "all campaigns"
    operator, ids = scope
    shown = ", ".join(ids[:3]) + (f", … ({len(ids)} campaigns)" if len(ids) > 3 else "")
    return f"campaign.id {operator} [{shown}]"


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
