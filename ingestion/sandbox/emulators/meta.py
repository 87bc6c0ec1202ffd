"""Meta Marketing API (Graph API) emulator: campaigns/adsets/ads edges, ad insights (sync and async
report runs), cursor paging and rate-limit errors, in the vendor's wire format.

Served paths (any `v<NN>.0`):
    GET  /v21.0/act_<id>/campaigns|adsets|ads      ?fields=&limit=&after=
    GET  /v21.0/act_<id>/insights                  sync insights (level=ad, time_increment=1, time_range)
    POST /v21.0/act_<id>/insights                  -> {"report_run_id"}
    GET  /v21.0/<report_run_id>                    -> async_status, async_percent_completion
    GET  /v21.0/<report_run_id>/insights           the finished report, paged
Auth: `access_token` query parameter or `Authorization: Bearer|OAuth <token>`.

Sandbox control (not part of Meta's API, used by tests and the demo):
    GET|POST /_emulator/control  {"as_of": "YYYY-MM-DD"|null, "throttle_next": [17, 613],
                                  "rate_limit": {"calls": N, "window_seconds": S}|null,
                                  "polls_to_complete": N, "fail_next_jobs": N}
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections import deque
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
    INSIGHT_FIELDS,
    NODE_TYPES,
    OBJECT_FIELDS,
    MetaWorld,
    parse_day,
)

ACCESS_TOKEN = "sandbox-meta-access-token"
VERSION_RE = re.compile(r"^v\d+\.0$")
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


@dataclass
class MetaControl:
    """Knobs tests turn: reporting date, throttling, async job behaviour."""

    as_of: date | None = None
    throttle_next: deque[int] = field(default_factory=deque)
    rate_limit: dict[str, float] | None = None  # {"calls": N, "window_seconds": S}
    regain_minutes: int = 0  # reported as estimated_time_to_regain_access
    polls_to_complete: int = 3
    fail_next_jobs: int = 0
    calls: deque[float] = field(default_factory=deque)
    jobs: dict[str, ReportRun] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(6100000000001))


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


class MetaEmulator:
    """Request handlers over one `MetaWorld`; state lives in `control`."""

    def __init__(self, world: MetaWorld, faults: FaultInjector) -> None:
        self.world = world
        self.faults = faults
        self.control = MetaControl()

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

    def _gate(self, request: Request, params: dict[str, str], version: str) -> JSONResponse | None:
        """Version, token and rate limits; returns an error response or None."""
        if not VERSION_RE.match(version):
            return graph_error(f"Unknown path components: /{version}", 2500, status=400)
        auth = request.headers.get("authorization", "")
        token = params.get("access_token") or (auth.split(" ", 1)[1] if " " in auth else "")
        if token != ACCESS_TOKEN:
            return graph_error("Invalid OAuth access token - Cannot parse access token", 190, status=400)
        c = self.control
        with c.lock:
            if c.throttle_next:
                code = c.throttle_next.popleft()
                return graph_error(
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
                    return graph_error(
                        THROTTLE_MESSAGES[17],
                        17,
                        subcode=2446079,
                        headers=self._usage_headers(100, c.regain_minutes),
                        transient=True,
                    )
                c.calls.append(now)
        return None

    def _page(self, request: Request, items: list[dict], params: dict[str, str]) -> JSONResponse | dict:
        try:
            limit = min(int(params.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
            offset = _decode_cursor(params["after"]) if params.get("after") else 0
        except ValueError as exc:
            return graph_error(f"(#100) {exc}", 100, status=400)
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

    def _account(self, node: str) -> JSONResponse | None:
        if node != f"act_{self.world.account_id}":
            return graph_error(
                f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                100,
                kind="GraphMethodException",
                subcode=33,
            )
        return None

    def _insight_rows(self, params: dict[str, str]) -> list[dict] | JSONResponse:
        level = params.get("level", "account")
        if level != "ad":
            return graph_error(
                f"(#100) level={level} is not served by the sandbox emulator (use level=ad)", 100
            )
        if params.get("time_increment", "all_days") != "1":
            return graph_error("(#100) the sandbox emulator serves time_increment=1 only", 100)
        try:
            time_range = json.loads(params["time_range"])
            since, until = parse_day(time_range["since"]), parse_day(time_range["until"])
        except (KeyError, ValueError, TypeError):
            return graph_error(
                "(#100) Must specify a valid time_range: {'since':'YYYY-MM-DD','until':'YYYY-MM-DD'}", 100
            )
        if until < since:
            return graph_error("(#100) time_range since must be before until", 100)
        fields = split_fields(params.get("fields", "spend,impressions,date_start,date_stop"))
        unknown = [f for f in fields if f not in INSIGHT_FIELDS]
        if unknown:
            return graph_error(
                f"(#100) {unknown[0]} is not valid for fields param. please check "
                "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values",
                100,
            )
        windows = json.loads(params.get("action_attribution_windows", "[]") or "[]")
        return self.world.insights(since, until, fields, windows)

    # -- routes ----------------------------------------------------------------------------------
    async def edge(self, request: Request) -> JSONResponse:
        version, node, edge = (request.path_params[k] for k in ("version", "node", "edge"))
        params = await self._params(request)
        if (error := self._gate(request, params, version)) is not None:
            return error
        if node.startswith("act_"):
            if (error := self._account(node)) is not None:
                return error
            if edge == "insights":
                if request.method == "POST":
                    return self._start_job(params)
                rows = self._insight_rows(params)
                if isinstance(rows, JSONResponse):
                    return rows
                return self._respond(request, rows, params)
            if edge not in OBJECT_FIELDS or request.method != "GET":
                return graph_error(
                    f"(#100) Tried accessing nonexisting field ({edge}) on node type (AdAccount)", 100
                )
            fields = split_fields(params.get("fields", "id"))
            for spec in fields:
                if spec.partition("{")[0] not in OBJECT_FIELDS[edge]:
                    return graph_error(
                        f"(#100) Tried accessing nonexisting field ({spec}) on node type ({NODE_TYPES[edge]})",
                        100,
                    )
            objects = [_select(obj, fields) for obj in self.world.objects(edge)]
            return self._respond(request, objects, params)
        if edge != "insights":
            return graph_error(
                f"(#100) Tried accessing nonexisting field ({edge}) on node type (AdReportRun)", 100
            )
        job = self.control.jobs.get(node)
        if job is None:
            return graph_error(
                f"Unsupported get request. Object with ID '{node}' does not exist", 100, subcode=33
            )
        if job.fails or job.polls < self.control.polls_to_complete:
            return graph_error("(#100) The report is not ready: poll async_status until Job Completed", 100)
        rows = self._insight_rows(job.params)
        if isinstance(rows, JSONResponse):
            return rows
        return self._respond(request, rows, params)

    def _respond(self, request: Request, items: list[dict], params: dict[str, str]) -> JSONResponse:
        body = self._page(request, items, params)
        if isinstance(body, JSONResponse):
            return body
        return JSONResponse(body, headers=self._usage_headers(min(99, len(self.control.calls)), 0))

    def _start_job(self, params: dict[str, str]) -> JSONResponse:
        probe = self._insight_rows(params)  # validate now, like Meta does on job creation
        if isinstance(probe, JSONResponse):
            return probe
        c = self.control
        with c.lock:
            job = ReportRun(id=str(next(c.ids)), params=dict(params), fails=c.fail_next_jobs > 0)
            c.fail_next_jobs = max(0, c.fail_next_jobs - 1)
            c.jobs[job.id] = job
        return JSONResponse({"report_run_id": job.id})

    async def node(self, request: Request) -> JSONResponse:
        version, node = request.path_params["version"], request.path_params["node"]
        params = await self._params(request)
        if (error := self._gate(request, params, version)) is not None:
            return error
        job = self.control.jobs.get(node)
        if job is None:
            return graph_error(
                f"Unsupported get request. Object with ID '{node}' does not exist", 100, subcode=33
            )
        with self.control.lock:
            job.polls += 1
            polls = job.polls
        needed = max(self.control.polls_to_complete, 1)
        if job.fails and polls >= needed:
            status, pct = "Job Failed", 0
        elif polls >= needed:
            status, pct = "Job Completed", 100
        elif polls == 1:
            status, pct = "Job Not Started", 0
        else:
            status, pct = "Job Running", int(100 * polls / (needed + 1))
        time_range = json.loads(job.params["time_range"])
        return JSONResponse(
            {
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
            }
        )

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
        return JSONResponse(
            {
                "as_of": self.world.reporting_date.isoformat(),
                "throttle_next": list(c.throttle_next),
                "rate_limit": c.rate_limit,
                "polls_to_complete": c.polls_to_complete,
                "fail_next_jobs": c.fail_next_jobs,
                "jobs": len(c.jobs),
            }
        )


def create_app(world_dir: Path, faults: FaultInjector) -> Starlette:
    """The ASGI app over one world directory (the fault middleware is added by `running_emulator`)."""
    emulator = MetaEmulator(MetaWorld(Path(world_dir)), faults)
    app = Starlette(
        routes=[
            Route("/_emulator/control", emulator.control_route, methods=["GET", "POST"]),
            Route("/{version}/{node}/{edge}", emulator.edge, methods=["GET", "POST"]),
            Route("/{version}/{node}", emulator.node, methods=["GET"]),
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
