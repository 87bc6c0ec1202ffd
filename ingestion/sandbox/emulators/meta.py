"""Meta Marketing API (Graph API) emulator: campaigns/adsets/ads edges, ad insights (sync and async
report runs), the token and ad account nodes a connection check reads, cursor paging and rate-limit
errors, in the vendor's wire format.

Served paths (`<v>` = a Graph API version, see "Versions"):
    GET  /<v>/me                                 the token's user (`fields=id,name`)
    GET  /<v>/me/permissions                     [{permission, status}] granted to the token
    GET  /<v>/act_<id>                           the ad account (`fields=name,account_status,currency`)
    GET  /<v>/act_<id>/campaigns|adsets|ads      ?fields=&limit=&after=&effective_status=[...]
    GET  /<v>/act_<id>/insights                  sync insights (level=ad, time_increment=1, time_range,
                                                 filtering)
    POST /<v>/act_<id>/insights                  -> {"report_run_id"}
    GET  /<v>/<report_run_id>                    -> async_status, async_percent_completion (+ error_code,
                                                 error_message when the run failed)
    GET  /<v>/<report_run_id>/insights           the finished report, paged
    POST /<v>/act_<id>/customaudiences           create a customer list Custom Audience -> {"id"}
    GET  /<v>/act_<id>/customaudiences           ?fields=id,name,...&limit=&after=
    GET  /<v>/<audience_id>                      ?fields=approximate_count_lower_bound,
                                                 approximate_count_upper_bound,operation_status,...
    POST|DELETE /<v>/<audience_id>/users         add/remove hashed people: payload={schema, data},
                                                 session={session_id, batch_seq, last_batch_flag, ...}
    (the Custom Audience paths, their rules and knobs are described in `meta_audiences`)
Auth: `access_token` query parameter or `Authorization: Bearer|OAuth <token>`; anything else is Meta's
error 190. Marketing API calls also need `ads_read` (or `ads_management`) granted, else error 200;
writing Custom Audiences needs `ads_management`.

What Meta enforces and so does this emulator:
- Versions: the Marketing API serves v24.0..v26.0 (every version before v24.0 was deprecated on
  2026-06-09); an ads call with an older version gets HTTP 400 `(#2635) You are calling a deprecated
  version of the Ads API...`, while plain Graph calls (`/me`) are served by the oldest available version
  and say so in the `facebook-api-version` response header. Unreleased versions are unknown paths.
- ARCHIVED and DELETED objects are left out of the campaigns/adsets/ads edges unless asked for with
  `effective_status`; `level=ad` account insights leave out DELETED ads unless `filtering` on
  `ad.effective_status` admits them, but keep archived ones (their spend is the account's history).

Sandbox control (not part of Meta's API, used by tests and the demo):
    GET|POST /_emulator/control  {"as_of": "YYYY-MM-DD"|null, "throttle_next": [17, 613],
                                  "rate_limit": {"calls": N, "window_seconds": S}|null,
                                  "polls_to_complete": N, "fail_next_jobs": N,
                                  "fail_jobs_longer_than_days": N|null,
                                  "fail_jobs_wider_than_campaigns": N|null,
                                  "stall_jobs_longer_than_days": N|null,
                                  "permissions": ["ads_read", ...],
                                  "throttle_audience_next": N, "fail_user_batches_after": N|null,
                                  "reset_audiences": true}
    GET      /_emulator/audiences  each Custom Audience's members, upload log and sessions
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingestion.sandbox.emulators.faults import FaultInjector
from ingestion.sandbox.emulators.meta_world import (
    DEFAULT_ACCOUNT_ID,
    EFFECTIVE_STATUSES,
    HIDDEN_STATUSES,
    INSIGHT_FIELDS,
    NODE_TYPES,
    OBJECT_FIELDS,
    MetaWorld,
    parse_day,
)

ACCESS_TOKEN = "sandbox-meta-access-token"
SYSTEM_USER = {"id": "61550000000000001", "name": "Sandbox Journey Loader (system user)"}
VERSION_RE = re.compile(r"^v(\d+)\.0$")
OLDEST_VERSION, LATEST_VERSION = 24, 26  # the Marketing API's supported window as of 2026-12
DEPRECATED_VERSION = (
    "(#2635) You are calling a deprecated version of the Ads API. "
    f"Please update to the latest version: v{LATEST_VERSION}.0."
)
NO_ADS_PERMISSION = "(#200) Ad account owner has NOT grant ads_management or ads_read permission"
# ads_management: the sandbox token also writes Custom Audiences (activation)
DEFAULT_PERMISSIONS = ("ads_read", "ads_management", "business_management", "read_insights")
ACCOUNT_FIELDS = {"id", "account_id", "name", "account_status", "currency", "timezone_name"}
USER_FIELDS = {"id", "name"}
REPORT_RUN_FIELDS = {
    "id", "account_id", "time_ref", "async_status", "async_percent_completion", "date_start", "date_stop",
    "emails", "friendly_name", "is_bookmarked", "is_running",
}  # fmt: skip
REPORT_RUN_ERROR_FIELDS = {"error_code", "error_message"}  # AdReportRun fields since v25.0
# the filtering fields and operators insights requests may use here (a subset of Meta's)
FILTER_FIELDS = {
    "ad.effective_status", "adset.effective_status", "campaign.effective_status", "ad.id", "adset.id",
    "campaign.id",
}  # fmt: skip
FILTER_OPERATORS = {"IN", "NOT_IN", "EQUAL", "NOT_EQUAL"}
# what a report run that Meta gave up on carries since v25.0 (AdReportRun.error_code / error_message)
JOB_ERROR = {
    "error_code": 1,
    "error_message": "Please reduce the amount of data you're asking for, then retry your request",
}
DEFAULT_LIMIT = 25
MAX_LIMIT = 5000
THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80000: "(#80000) There have been too many calls from this ad-account. Wait a bit and try again.",
}


@dataclass
class ReportRun:
    id: str
    params: dict[str, str]
    polls: int = 0
    fails: bool = False
    stalls: bool = False  # stays "Job Running" for ever (a connector must time out and move on)
    version: str = f"v{LATEST_VERSION}.0"  # the version it was created with (error fields from v25.0)


@dataclass
class MetaControl:
    """Knobs tests turn: reporting date, throttling, async job behaviour, granted permissions."""

    as_of: date | None = None
    throttle_next: deque[int] = field(default_factory=deque)
    rate_limit: dict[str, float] | None = None  # {"calls": N, "window_seconds": S}
    regain_minutes: int = 0  # reported as estimated_time_to_regain_access
    polls_to_complete: int = 3
    fail_next_jobs: int = 0
    fail_jobs_longer_than_days: int | None = None  # report runs over more days than this fail
    fail_jobs_wider_than_campaigns: int | None = None  # ... or over more campaigns than this
    stall_jobs_longer_than_days: int | None = None  # ... or never finish
    permissions: tuple[str, ...] = DEFAULT_PERMISSIONS
    calls: deque[float] = field(default_factory=deque)
    jobs: dict[str, ReportRun] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(6100000000001))


class GraphError(Exception):
    """Raised inside a handler; becomes Meta's `{"error": {...}}` body."""

    def __init__(self, message: str, code: int, **kwargs: Any) -> None:
        super().__init__(message)
        self.response = graph_error(message, code, **kwargs)


def graph_error(
    message: str,
    code: int,
    *,
    kind: str = "OAuthException",
    status: int = 400,
    subcode: int | None = None,
    headers: dict[str, str] | None = None,
    transient: bool = False,
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": "AemuLatorTrace"}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        return int(text.split(":", 1)[1])
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid cursor {cursor!r}") from exc


def split_fields(spec: str) -> list[str]:
    """Top-level comma split that keeps nested selections (`creative{url_tags}`) together."""
    out, depth, current = [], 0, ""
    for ch in spec:
        if ch == "," and depth == 0:
            out.append(current.strip())
            current = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        current += ch
    if current.strip():
        out.append(current.strip())
    return [f for f in out if f]


def _select(obj: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for spec in fields:
        name, _, sub = spec.partition("{")
        if name not in obj or obj[name] is None:
            continue
        value = obj[name]
        if sub and isinstance(value, dict):
            value = _select(value, split_fields(sub[:-1] if sub.endswith("}") else sub))
        result[name] = value
    if "id" in obj:  # the Graph API always returns the node id
        result.setdefault("id", obj["id"])
    return result


def _json_list(params: dict[str, str], name: str) -> list[Any] | None:
    """A list-valued parameter (`["A","B"]`), None when absent; Meta's error 100 when not a list."""
    if name not in params:
        return None
    try:
        value = json.loads(params[name])
    except ValueError:
        value = None
    if not isinstance(value, list):
        raise GraphError(f"(#100) param {name} must be an array.", 100)
    return value


@dataclass(frozen=True)
class Filter:
    field: str
    operator: str
    values: frozenset[str]

    def admits(self, value: str) -> bool:
        inside = value in self.values
        return inside if self.operator in ("IN", "EQUAL") else not inside


def parse_filtering(params: dict[str, str]) -> list[Filter]:
    """Insights `filtering`: [{"field", "operator", "value"}], validated like Meta does (error 100)."""
    out = []
    for item in _json_list(params, "filtering") or []:
        if not isinstance(item, dict) or not {"field", "operator", "value"} <= item.keys():
            raise GraphError("(#100) filtering must be a list of {field, operator, value} objects", 100)
        name, operator, value = item["field"], item["operator"], item["value"]
        if name not in FILTER_FIELDS:
            raise GraphError(f"(#100) Filtering field {name} is invalid.", 100)
        if operator not in FILTER_OPERATORS:
            raise GraphError(f"(#100) Filtering operator {operator} is not supported for {name}.", 100)
        values = value if isinstance(value, list) else [value]
        if name.endswith(".effective_status"):
            valid = EFFECTIVE_STATUSES[
                {"ad": "ads", "adset": "adsets", "campaign": "campaigns"}[name.split(".")[0]]
            ]
            bad = [v for v in values if v not in valid]
            if bad:
                raise GraphError(
                    f"(#100) Filtering field {name} with operation {operator} has invalid value {bad[0]}", 100
                )
        out.append(Filter(name, operator, frozenset(str(v) for v in values)))
    return out


class MetaEmulator:
    """Request handlers over one `MetaWorld`; state lives in `control`."""

    def __init__(self, world: MetaWorld, faults: FaultInjector) -> None:
        self.world = world
        self.faults = faults
        self.control = MetaControl()
        # imported here: the Custom Audience endpoints build on this module's helpers
        from ingestion.sandbox.emulators.meta_audiences import AudienceEndpoints

        self.audiences = AudienceEndpoints(self)

    # -- helpers ---------------------------------------------------------------------------------
    async def _params(self, request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        if request.method == "POST":
            ctype = request.headers.get("content-type", "")
            if "json" in ctype:
                body = await request.json()
                params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
            else:  # application/x-www-form-urlencoded, parsed by hand (no python-multipart needed)
                body = (await request.body()).decode()
                params.update(dict(parse_qsl(body, keep_blank_values=True)))
        return params

    def _usage_headers(self, pct: int, regain: int) -> dict[str, str]:
        usage = {
            self.world.account_id: [
                {
                    "type": "ads_insights",
                    "call_count": pct,
                    "total_cputime": min(pct, 100),
                    "total_time": min(pct, 100),
                    "estimated_time_to_regain_access": regain,
                }
            ]
        }
        throttle = {"app_id_util_pct": pct, "acc_id_util_pct": pct, "ads_api_access_tier": "standard_access"}
        return {
            "x-business-use-case-usage": json.dumps(usage),
            "x-fb-ads-insights-throttle": json.dumps(throttle),
        }

    def _gate(self, request: Request, params: dict[str, str], version: str, ads: bool = True) -> str:
        """Version, token, permission and rate limits; returns the version that serves the call or
        raises `GraphError`. `ads`: a Marketing API call (deprecated versions rejected, permission
        needed) rather than a plain Graph call (deprecated versions served by the oldest one)."""
        match = VERSION_RE.match(version)
        if not match or int(match.group(1)) > LATEST_VERSION:
            raise GraphError(f"Unknown path components: /{version}", 2500)
        auth = request.headers.get("authorization", "")
        token = params.get("access_token") or (auth.split(" ", 1)[1] if " " in auth else "")
        if token != ACCESS_TOKEN:
            raise GraphError("Invalid OAuth access token - Cannot parse access token", 190)
        served = version
        if int(match.group(1)) < OLDEST_VERSION:
            if ads:
                raise GraphError(DEPRECATED_VERSION, 2635)
            served = f"v{OLDEST_VERSION}.0"
        c = self.control
        if ads and not {"ads_read", "ads_management"} & set(c.permissions):
            raise GraphError(NO_ADS_PERMISSION, 200)
        with c.lock:
            if c.throttle_next:
                code = c.throttle_next.popleft()
                raise GraphError(
                    THROTTLE_MESSAGES.get(code, f"(#{code}) Rate limited"),
                    code,
                    subcode=2446079 if code == 17 else None,
                    headers=self._usage_headers(100, c.regain_minutes),
                    transient=True,
                )
            if c.rate_limit:
                now = time.monotonic()
                window = float(c.rate_limit.get("window_seconds", 60))
                while c.calls and c.calls[0] < now - window:
                    c.calls.popleft()
                if len(c.calls) >= int(c.rate_limit["calls"]):
                    raise GraphError(
                        THROTTLE_MESSAGES[17],
                        17,
                        subcode=2446079,
                        headers=self._usage_headers(100, c.regain_minutes),
                        transient=True,
                    )
                c.calls.append(now)
        return served

    def _page(self, request: Request, items: list[dict], params: dict[str, str]) -> dict:
        try:
            limit = min(int(params.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
            offset = _decode_cursor(params["after"]) if params.get("after") else 0
        except ValueError as exc:
            raise GraphError(f"(#100) {exc}", 100) from exc
        page = items[offset : offset + limit]
        body: dict[str, Any] = {"data": page}
        if page:
            paging: dict[str, Any] = {
                "cursors": {"before": _encode_cursor(offset), "after": _encode_cursor(offset + len(page))}
            }
            if offset + len(page) < len(items):
                paging["next"] = str(
                    request.url.include_query_params(after=_encode_cursor(offset + len(page)))
                )
            if offset > 0:
                paging["previous"] = str(
                    request.url.include_query_params(after=_encode_cursor(max(offset - limit, 0)))
                )
            body["paging"] = paging
        return body

    def _account(self, node: str) -> None:
        if node != f"act_{self.world.account_id}":
            raise GraphError(
                f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                100,
                kind="GraphMethodException",
                subcode=33,
            )

    @staticmethod
    def _fields(params: dict[str, str], known: set[str], node_type: str, default: str) -> list[str]:
        fields = split_fields(params.get("fields", default))
        for spec in fields:
            if spec.partition("{")[0] not in known:
                raise GraphError(
                    f"(#100) Tried accessing nonexisting field ({spec}) on node type ({node_type})", 100
                )
        return fields

    def _insight_where(self, filters: list[Filter]) -> Callable[[dict[str, str]], bool]:
        """The rows a `level=ad` account insights request sees: DELETED ads only when a filter on
        `ad.effective_status` admits them, then every filter."""
        statuses = self.world.effective_statuses()
        objects = {
            kind: {str(o["id"]): o for o in self.world.objects(kind)} for kind in ("adsets", "campaigns")
        }
        asks_deleted = any(f.field == "ad.effective_status" and f.admits("DELETED") for f in filters)

        def value(f: Filter, ids: dict[str, str]) -> str:
            kind, attr = f.field.split(".")
            if attr == "id":
                return ids[f"{kind}_id"]
            if kind == "ad":
                return statuses.get(ids["ad_id"], "ACTIVE")
            obj = objects[f"{kind}s"].get(ids[f"{kind}_id"], {})
            return str(obj.get("effective_status", "ACTIVE"))

        def where(ids: dict[str, str]) -> bool:
            if statuses.get(ids["ad_id"]) == "DELETED" and not asks_deleted:
                return False
            return all(f.admits(value(f, ids)) for f in filters)

        return where

    def _insight_rows(self, params: dict[str, str]) -> list[dict]:
        level = params.get("level", "account")
        if level != "ad":
            raise GraphError(
                f"(#100) level={level} is not served by the sandbox emulator (use level=ad)", 100
            )
        if params.get("time_increment", "all_days") != "1":
            raise GraphError("(#100) the sandbox emulator serves time_increment=1 only", 100)
        since, until = self._time_range(params)
        fields = split_fields(params.get("fields", "spend,impressions,date_start,date_stop"))
        unknown = [f for f in fields if f not in INSIGHT_FIELDS]
        if unknown:
            raise GraphError(
                f"(#100) {unknown[0]} is not valid for fields param. please check "
                "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values",
                100,
            )
        windows = json.loads(params.get("action_attribution_windows", "[]") or "[]")
        where = self._insight_where(parse_filtering(params))
        return self.world.insights(since, until, fields, windows, where)

    @staticmethod
    def _time_range(params: dict[str, str]) -> tuple[date, date]:
        try:
            time_range = json.loads(params["time_range"])
            since, until = parse_day(time_range["since"]), parse_day(time_range["until"])
        except (KeyError, ValueError, TypeError) as exc:
            raise GraphError(
                "(#100) Must specify a valid time_range: {'since':'YYYY-MM-DD','until':'YYYY-MM-DD'}", 100
            ) from exc
        if until < since:
            raise GraphError("(#100) time_range since must be before until", 100)
        return since, until

    def _respond(self, body: dict[str, Any], served: str) -> JSONResponse:
        headers = self._usage_headers(min(99, len(self.control.calls)), 0)
        return JSONResponse(body, headers={**headers, "facebook-api-version": served})

    # -- routes ----------------------------------------------------------------------------------
    async def edge(self, request: Request) -> JSONResponse:
        version, node, edge = (request.path_params[k] for k in ("version", "node", "edge"))
        params = await self._params(request)
        try:
            if node == "me":
                served = self._gate(request, params, version, ads=False)
                if edge != "permissions":
                    raise GraphError(
                        f"(#100) Tried accessing nonexisting field ({edge}) on node type (User)", 100
                    )
                granted = [{"permission": p, "status": "granted"} for p in self.control.permissions]
                return self._respond({"data": granted}, served)
            served = self._gate(request, params, version)
            if node.startswith("act_"):
                self._account(node)
                if edge == "insights":
                    if request.method == "POST":
                        return self._respond(self._start_job(params, served), served)
                    return self._respond(self._page(request, self._insight_rows(params), params), served)
                if edge not in OBJECT_FIELDS or request.method != "GET":
                    raise GraphError(
                        f"(#100) Tried accessing nonexisting field ({edge}) on node type (AdAccount)", 100
                    )
                fields = self._fields(params, OBJECT_FIELDS[edge], NODE_TYPES[edge], "id")
                objects = [_select(obj, fields) for obj in self._edge_objects(edge, params)]
                return self._respond(self._page(request, objects, params), served)
            if edge != "insights":
                raise GraphError(
                    f"(#100) Tried accessing nonexisting field ({edge}) on node type (AdReportRun)", 100
                )
            job = self._job(node)
            if job.fails or job.stalls or job.polls < self.control.polls_to_complete:
                raise GraphError("(#100) The report is not ready: poll async_status until Job Completed", 100)
            return self._respond(self._page(request, self._insight_rows(job.params), params), served)
        except GraphError as error:
            return error.response

    def _edge_objects(self, edge: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """Live objects by default; `effective_status=[...]` selects by status (archived/deleted too)."""
        wanted = _json_list(params, "effective_status")
        if wanted is not None:
            valid = EFFECTIVE_STATUSES[edge]
            for i, value in enumerate(wanted):
                if value not in valid:
                    raise GraphError(
                        f"(#100) Param effective_status[{i}] must be one of {{{', '.join(sorted(valid))}}} - "
                        f'got "{value}"',
                        100,
                    )
        keep = set(wanted) if wanted is not None else EFFECTIVE_STATUSES[edge] - HIDDEN_STATUSES
        return [obj for obj in self.world.objects(edge) if obj["effective_status"] in keep]

    def _job(self, node: str) -> ReportRun:
        job = self.control.jobs.get(node)
        if job is None:
            raise GraphError(
                f"Unsupported get request. Object with ID '{node}' does not exist", 100, subcode=33
            )
        return job

    def _scope_campaigns(self, params: dict[str, str]) -> int:
        """How many of the account's campaigns a report run covers (its `campaign.id` filters)."""
        filters = [f for f in parse_filtering(params) if f.field == "campaign.id"]
        return sum(all(f.admits(c) for f in filters) for c in self.world.campaign_ids())

    def _start_job(self, params: dict[str, str], version: str) -> dict[str, str]:
        self._insight_rows(params)  # validate now, like Meta does on job creation
        since, until = self._time_range(params)
        days = (until - since).days + 1
        c = self.control
        with c.lock:
            too_long = c.fail_jobs_longer_than_days is not None and days > c.fail_jobs_longer_than_days
            too_wide = (
                c.fail_jobs_wider_than_campaigns is not None
                and self._scope_campaigns(params) > c.fail_jobs_wider_than_campaigns
            )
            stalls = c.stall_jobs_longer_than_days is not None and days > c.stall_jobs_longer_than_days
            job = ReportRun(
                id=str(next(c.ids)),
                params=dict(params),
                fails=c.fail_next_jobs > 0 or too_long or too_wide,
                stalls=stalls,
                version=version,
            )
            c.fail_next_jobs = max(0, c.fail_next_jobs - 1)
            c.jobs[job.id] = job
        return {"report_run_id": job.id}

    async def node(self, request: Request) -> JSONResponse:
        version, node = request.path_params["version"], request.path_params["node"]
        params = await self._params(request)
        try:
            if node == "me":
                served = self._gate(request, params, version, ads=False)
                fields = self._fields(params, USER_FIELDS, "User", "id,name")
                return self._respond(_select(SYSTEM_USER, fields), served)
            served = self._gate(request, params, version)
            if node.startswith("act_"):
                self._account(node)
                fields = self._fields(params, ACCOUNT_FIELDS, "AdAccount", "id")
                return self._respond(_select(self._account_object(), fields), served)
            known = REPORT_RUN_FIELDS | (
                REPORT_RUN_ERROR_FIELDS if int(served[1:].split(".")[0]) >= 25 else set()
            )
            run = self._poll(self._job(node))
            if "fields" in params:
                run = _select(run, self._fields(params, known, "AdReportRun", "id"))
            return self._respond(run, served)
        except GraphError as error:
            return error.response

    def _account_object(self) -> dict[str, Any]:
        return {
            "id": f"act_{self.world.account_id}",
            "account_id": self.world.account_id,
            "name": "Simulated Shop",
            "account_status": 1,  # ACTIVE
            "currency": "USD",
            "timezone_name": "America/New_York",
        }

    def _poll(self, job: ReportRun) -> dict[str, Any]:
        with self.control.lock:
            job.polls += 1
            polls = job.polls
        needed = max(self.control.polls_to_complete, 1)
        extra: dict[str, Any] = {}
        if job.stalls:
            status, pct = ("Job Not Started", 0) if polls == 1 else ("Job Running", 42)
        elif job.fails and polls >= needed:
            status, pct = "Job Failed", 0
            extra = dict(JOB_ERROR) if int(job.version[1:].split(".")[0]) >= 25 else {}
        elif polls >= needed:
            status, pct = "Job Completed", 100
        elif polls == 1:
            status, pct = "Job Not Started", 0
        else:
            status, pct = "Job Running", int(100 * polls / (needed + 1))
        time_range = json.loads(job.params["time_range"])
        return {
            "id": job.id,
            "account_id": self.world.account_id,
            "time_ref": int(time.time()),
            "async_status": status,
            "async_percent_completion": pct,
            "date_start": time_range["since"],
            "date_stop": time_range["until"],
            "emails": [],
            "friendly_name": "sandbox insights report",
            "is_bookmarked": False,
            "is_running": status in ("Job Not Started", "Job Running"),
            **extra,
        }

    async def control_route(self, request: Request) -> JSONResponse:
        c = self.control
        if request.method == "POST":
            body = await request.json()
            with c.lock:
                if "as_of" in body:
                    c.as_of = parse_day(body["as_of"]) if body["as_of"] else None
                    self.world.as_of = c.as_of
                if "throttle_next" in body:
                    c.throttle_next = deque(int(x) for x in body["throttle_next"])
                if "rate_limit" in body:
                    c.rate_limit = body["rate_limit"]
                    c.calls.clear()
                for key in ("regain_minutes", "polls_to_complete", "fail_next_jobs"):
                    if key in body:
                        setattr(c, key, int(body[key]))
                for key in (
                    "fail_jobs_longer_than_days",
                    "fail_jobs_wider_than_campaigns",
                    "stall_jobs_longer_than_days",
                ):
                    if key in body:
                        setattr(c, key, None if body[key] is None else int(body[key]))
                if "permissions" in body:
                    c.permissions = tuple(body["permissions"] or DEFAULT_PERMISSIONS)
            self.audiences.configure(body)
        return JSONResponse(
            {
                "as_of": self.world.reporting_date.isoformat(),
                "throttle_next": list(c.throttle_next),
                "rate_limit": c.rate_limit,
                "polls_to_complete": c.polls_to_complete,
                "fail_next_jobs": c.fail_next_jobs,
                "fail_jobs_longer_than_days": c.fail_jobs_longer_than_days,
                "fail_jobs_wider_than_campaigns": c.fail_jobs_wider_than_campaigns,
                "stall_jobs_longer_than_days": c.stall_jobs_longer_than_days,
                "permissions": list(c.permissions),
                "jobs": len(c.jobs),
                **self.audiences.control_state(),
            }
        )


def create_app(world_dir: Path, faults: FaultInjector) -> Starlette:
    """The ASGI app over one world directory (the fault middleware is added by `running_emulator`)."""
    emulator = MetaEmulator(MetaWorld(Path(world_dir)), faults)
    app = Starlette(
        routes=[
            Route("/_emulator/control", emulator.control_route, methods=["GET", "POST"]),
            Route("/_emulator/audiences", emulator.audiences.records, methods=["GET"]),
            Route(
                "/{version}/{node}/customaudiences", emulator.audiences.account_edge, methods=["GET", "POST"]
            ),
            Route("/{version}/{node}/users", emulator.audiences.users, methods=["POST", "DELETE"]),
            Route("/{version}/{node}/{edge}", emulator.edge, methods=["GET", "POST"]),
            Route("/{version}/{node}", emulator.audiences.node, methods=["GET"]),
        ]
    )
    app.state.emulator = emulator
    return app


def endpoint_env(base_url: str) -> dict[str, str]:
    """Env that points the Meta connector at this emulator (same variables as for the real API)."""
    return {
        "META_API_URL": base_url,
        "META_ACCESS_TOKEN": ACCESS_TOKEN,
        "META_AD_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,
        # report runs complete in milliseconds here; polling every second would only add idle time
        "META_POLL_SECONDS": "0.05",
    }
