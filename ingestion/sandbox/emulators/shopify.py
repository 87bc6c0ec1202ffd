"""Shopify GraphQL Admin API emulator: the simulated shop's orders, customers and products over
`POST /admin/api/<version>/graphql.json`, executed by graphql-core against a faithful schema subset
(`shopify_schema.py`) and served as the API would show it at the world's end date (`shopify_world.py`).

Faithful where connectors depend on it:
- auth by the `X-Shopify-Access-Token` header (HTTP 401 with Shopify's body otherwise), versioned path
  (`2025-01`, `unstable`; anything else 404);
- GraphQL errors with HTTP 200: unknown fields are validation errors worded like Shopify's
  (`Field 'foo' doesn't exist on type 'Order'`, `extensions.code = undefinedField`);
- calculated query cost and a leaky bucket: every response carries `extensions.cost` with
  `requestedQueryCost`, `actualQueryCost` and `throttleStatus {maximumAvailable, currentlyAvailable,
  restoreRate}`; a query costing more than is available gets `THROTTLED` (HTTP 200), a query over 1000
  points `MAX_COST_EXCEEDED`.

The bucket defaults to a sandbox plan (20 000 points, restoring 10 000/s) so demo loads are bound by
the network, not by waiting; tests switch to Shopify's Standard plan (2 000 / 100 per second) or force
`THROTTLED` through the control endpoint.

Sandbox control (not Shopify's API): GET|POST /_emulator/control
    {"as_of": "YYYY-MM-DD"|ISO timestamp|null, "maximum_available": N, "restore_rate": R,
     "throttle_next": N, "refill": true}
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from graphql import GraphQLError, execute, parse, validate
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingestion.sandbox.emulators.faults import FaultInjector
from ingestion.sandbox.emulators.shopify_schema import (
    SINGLE_QUERY_LIMIT,
    UserError,
    actual_cost,
    build_shopify_schema,
    query_cost,
)
from ingestion.sandbox.emulators.shopify_world import ShopifyWorld, iso, parse_as_of

ACCESS_TOKEN = "shpat_sandbox_0123456789abcdef"
SHOP_DOMAIN = "journey-sandbox.myshopify.com"
VERSION_RE = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
UNDEFINED_FIELD = re.compile(r"^Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'\.")
DEFAULT_MAXIMUM, DEFAULT_RESTORE = 20_000.0, 10_000.0


@dataclass
class ShopifyControl:
    """Throttling bucket and the moment the shop is shown at."""

    as_of: datetime | None = None
    maximum_available: float = DEFAULT_MAXIMUM
    restore_rate: float = DEFAULT_RESTORE
    available: float = DEFAULT_MAXIMUM
    updated: float = field(default_factory=time.monotonic)
    throttle_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(
            self.maximum_available, self.available + (now - self.updated) * self.restore_rate
        )
        self.updated = now

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": float(self.maximum_available),
            "currentlyAvailable": int(self.available),
            "restoreRate": float(self.restore_rate),
        }


def _error(message: str, code: str | None = None, **extensions: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if code or extensions:
        error["extensions"] = {**({"code": code} if code else {}), **extensions}
    return error


def _validation_error(error: GraphQLError) -> dict[str, Any]:
    """graphql-core's validation message, reworded where Shopify words it differently."""
    out: dict[str, Any] = {"message": error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if match := UNDEFINED_FIELD.match(error.message):
        out["message"] = f"Field '{match['field']}' doesn't exist on type '{match['type']}'"
        out["extensions"] = {"code": "undefinedField", "typeName": match["type"], "fieldName": match["field"]}
    return out


class ShopifyEmulator:
    def __init__(self, world: ShopifyWorld, faults: FaultInjector) -> None:
        self.world = world
        self.faults = faults
        self.control = ShopifyControl()
        self.schema = build_shopify_schema(lambda: self.world.view(self.control.as_of))

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        with self.control.lock:
            self.control.refill()
            return {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.control.status(),
            }

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        """Parse, validate, cost, throttle and execute one GraphQL request (runs in a worker thread)."""
        query, variables = body.get("query"), body.get("variables") or {}
        operation = body.get("operationName")
        if not isinstance(query, str) or not query.strip():
            return {"errors": [_error("No query string was present")]}
        try:
            document = parse(query)
        except GraphQLError as exc:
            return {"errors": [_validation_error(exc)]}
        errors = validate(self.schema, document)
        if errors:
            return {"errors": [_validation_error(e) for e in errors]}
        requested = query_cost(self.schema, document, variables, operation)
        if requested > SINGLE_QUERY_LIMIT:
            return {
                "errors": [
                    _error(
                        f"Query cost is {requested}, which exceeds the single query max cost limit "
                        f"({SINGLE_QUERY_LIMIT}).",
                        "MAX_COST_EXCEEDED",
                        cost=requested,
                        maxCost=SINGLE_QUERY_LIMIT,
                        documentation="https://shopify.dev/api/usage/rate-limits",
                    )
                ],
                "extensions": {"cost": self._cost(requested, None)},
            }
        c = self.control
        with c.lock:
            c.refill()
            throttled = c.throttle_next > 0 or requested > c.available
            if c.throttle_next > 0:
                c.throttle_next -= 1
            if not throttled:
                c.available -= requested
        if throttled:
            return {
                "errors": [
                    _error(
                        "Throttled", "THROTTLED", documentation="https://shopify.dev/api/usage/rate-limits"
                    )
                ],
                "extensions": {"cost": self._cost(requested, None)},
            }
        context: dict[str, Any] = {"shop_name": self.world.name}
        result = execute(self.schema, document, variable_values=variables, operation_name=operation,
                         context_value=context)  # fmt: skip
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [self._execution_error(e) for e in result.errors]
        actual = min(requested, actual_cost(self.schema, document, result.data, operation))
        with c.lock:
            c.available = min(c.maximum_available, c.available + max(0, requested - actual))
        payload["extensions"] = {"cost": self._cost(requested, actual)}
        if context.get("search"):
            payload["extensions"]["search"] = context["search"]
        return payload

    @staticmethod
    def _execution_error(error: GraphQLError) -> dict[str, Any]:
        original = error.original_error
        out: dict[str, Any] = {"message": error.message}
        if error.locations:
            out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
        if error.path:
            out["path"] = list(error.path)
        if isinstance(original, UserError):
            out["extensions"] = {"code": original.code, **original.extensions}
        return out

    async def graphql(self, request: Request) -> JSONResponse:
        if not VERSION_RE.match(request.path_params["version"]):
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if request.headers.get("x-shopify-access-token") != ACCESS_TOKEN:
            return JSONResponse(
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
                status_code=401,
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse(
                {"errors": {"query": "Required parameter missing or invalid"}}, status_code=400
            )
        if not isinstance(body, dict):
            return JSONResponse(
                {"errors": {"query": "Required parameter missing or invalid"}}, status_code=400
            )
        payload = await run_in_threadpool(self.run, body)
        return JSONResponse(payload)

    async def control_route(self, request: Request) -> JSONResponse:
        c = self.control
        if request.method == "POST":
            body = await request.json()
            with c.lock:
                if "as_of" in body:
                    c.as_of = parse_as_of(body["as_of"], self.world.end) if body["as_of"] else None
                for key in ("maximum_available", "restore_rate"):
                    if body.get(key) is not None:
                        setattr(c, key, float(body[key]))
                if body.get("maximum_available") is not None or body.get("refill"):
                    c.available = c.maximum_available
                    c.updated = time.monotonic()
                if "throttle_next" in body:
                    c.throttle_next = int(body["throttle_next"])
        with c.lock:
            c.refill()
            return JSONResponse({
                "as_of": iso(c.as_of or self.world.end),
                "throttle_next": c.throttle_next,
                "throttleStatus": c.status(),
            })  # fmt: skip


def create_app(world_dir: Path, faults: FaultInjector) -> Starlette:
    """The ASGI app over one world directory (the fault middleware is added by `running_emulator`)."""
    emulator = ShopifyEmulator(ShopifyWorld(Path(world_dir)), faults)
    app = Starlette(
        routes=[
            Route("/_emulator/control", emulator.control_route, methods=["GET", "POST"]),
            Route("/admin/api/{version}/graphql.json", emulator.graphql, methods=["POST"]),
        ]
    )
    app.state.emulator = emulator
    return app


def endpoint_env(base_url: str) -> dict[str, str]:
    """Env that points the Shopify connector at this emulator (same variables as for a real shop)."""
    return {"SHOPIFY_API_URL": base_url, "SHOPIFY_ACCESS_TOKEN": ACCESS_TOKEN}
