"""Shopify GraphQL Admin API emulator: the simulated shop's orders, customers and products over
`POST /admin/api/<version>/graphql.json`, executed by graphql-core against a faithful schema subset
(`shopify_schema.py`) and served as the API would show it at the world's end date (`shopify_world.py`).

Faithful where connectors depend on it:
- auth as a Dev Dashboard app gets it: `POST /admin/oauth/access_token` with `grant_type=
  client_credentials`, `client_id`, `client_secret` (form or JSON body) answers `{"access_token",
  "scope", "expires_in": 86399}`; a wrong id or secret gets HTTP 401 `{"error": "invalid_client",
  "error_description": …}`, a missing parameter or another grant HTTP 400 (`invalid_request`,
  `unsupported_grant_type`). Minted tokens expire after their TTL; an expired or unknown token (and a
  missing one) gets HTTP 401 `{"errors": "[API] Invalid API key or access token (unrecognized login or
  wrong password)"}`. A legacy custom app's permanent token (`ACCESS_TOKEN`) is accepted too;
- API versions as Shopify serves them in Dec 2026: the four supported quarterly versions (2026-01 …
  2026-10) and `unstable` are served as asked; an older well-formed version (e.g. 2025-01) is served as
  the oldest supported one; every response says which in `X-Shopify-API-Version`; a malformed version
  or one not released yet gets HTTP 404;
- access scopes: the app is granted `SCOPES` (`currentAppInstallation { accessScopes { handle } }`
  lists them); a root field without its scope is `ACCESS_DENIED` (HTTP 200), and without
  `read_all_orders` only the last 60 days of orders are visible, as on Shopify;
- GraphQL errors with HTTP 200: unknown fields are validation errors worded like Shopify's
  (`Field 'foo' doesn't exist on type 'Order'`, `extensions.code = undefinedField`);
- calculated query cost and a leaky bucket: every response carries `extensions.cost` with
  `requestedQueryCost`, `actualQueryCost` and `throttleStatus {maximumAvailable, currentlyAvailable,
  restoreRate}`; a query costing more than is available gets `THROTTLED` (HTTP 200), a query over 1000
  points `MAX_COST_EXCEEDED`; a mutation costs 10 points from the same bucket;
- customer tags (the activation destination): `tagsAdd(id:, tags:)` / `tagsRemove(id:, tags:)` with
  Shopify's payloads (`node`, `userErrors {field message}`), on a Customer gid only, needing
  `write_customers` (`ACCESS_DENIED` otherwise). Tags are trimmed, comma-separated values split, unique
  case-insensitively and listed sorted; adding a tag the customer has or removing one it has not is a
  no-op. userErrors: an unknown customer (`["id"]`, "Customer not found"), no tag (`["tags"]`, "At least
  one tag is required"), a tag over 255 characters (`["tags"]`, "Customer tags is invalid", as Shopify
  words it for product tags) and more than 250 tags on the customer (`["tags"]`, "Customer can't have
  more than 250 tags": our wording). More than 250 tags in one call is Shopify's top-level
  `MAX_INPUT_SIZE_EXCEEDED`; an id that is no global id Shopify's `INVALID_VARIABLE` ("Invalid global id
  '…'"). The tag state is live, in memory and thread-safe: every view shows it, and a write that changes
  tags bumps the customer's `updatedAt` to the shop's current moment (`as_of`).

The bucket defaults to a sandbox plan (20 000 points, restoring 10 000/s) so demo loads are bound by
the network, not by waiting; tests switch to Shopify's Standard plan (2 000 / 100 per second) or force
`THROTTLED` through the control endpoint.

Sandbox control (not Shopify's API): GET|POST /_emulator/control
    {"as_of": "YYYY-MM-DD"|ISO timestamp|null, "maximum_available": N, "restore_rate": R,
     "throttle_next": N, "refill": true,
     "token_ttl": seconds (of tokens minted from now on), "expire_tokens": true (every minted token
     expires now), "expire_after_requests": N (minted tokens expire after N more authenticated
     requests: a token running out mid-load), "scopes": [handles], "legacy_token": str|null,
     "reset_tags": true (forget every tag written)}
GET answers the state, including `tokens_minted`, `tokens_valid`, `tag_writes` (tag mutations that
changed a customer's tags) and `tag_mutations` (tag mutations executed, no-ops and userErrors included).
GET /_emulator/tags answers {"tags": {customer gid: [tags]} (every customer written to),
"mutations": {customer gid: tag mutations executed}, "writes": N}: a request refused before execution
(THROTTLED, a fault, a 401) is not counted, so a test can prove that retries wrote once.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

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

ACCESS_TOKEN = "shpat_sandbox_0123456789abcdef"  # a legacy custom app's permanent token
CLIENT_ID = "journey-sandbox-client-id"  # the Dev Dashboard app's credentials (client-credentials grant)
CLIENT_SECRET = "shpss_sandbox_fedcba9876543210"
TOKEN_TTL = 86_399.0  # what Shopify answers as `expires_in` for client-credentials tokens
SCOPES = ("read_all_orders", "read_customers", "read_orders", "read_products", "write_customers")
ALL_ORDERS_DAYS = 60
SHOP_DOMAIN = "journey-sandbox.myshopify.com"
VERSION_RE = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
# Shopify supports each quarterly version for 12 months: the window as of December 2026
SUPPORTED_VERSIONS = ("2026-01", "2026-04", "2026-07", "2026-10")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
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
    token_ttl: float = TOKEN_TTL
    tokens: dict[str, float] = field(default_factory=dict)  # minted token -> expiry (time.time())
    tokens_minted: int = 0
    expire_after: int | None = None  # minted tokens expire after this many more authenticated requests
    scopes: tuple[str, ...] = SCOPES
    legacy_token: str | None = ACCESS_TOKEN
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


def served_version(asked: str) -> str | None:
    """The version Shopify serves for the one in the path (None: 404)."""
    if not VERSION_RE.match(asked):
        return None
    if asked == "unstable" or asked in SUPPORTED_VERSIONS:
        return asked
    if asked < SUPPORTED_VERSIONS[0]:
        return SUPPORTED_VERSIONS[0]  # no longer supported: Shopify falls forward to the oldest supported
    return None  # not released (yet)


def _oauth_error(error: str, description: str, status: int) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


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
        self.schema = build_shopify_schema(lambda: self.world.view(self.control.as_of), self.world.tags)

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
        with c.lock:
            scopes = c.scopes
        view = self.world.view(c.as_of)
        orders_since = (
            None if "read_all_orders" in scopes
            else iso(view.as_of - timedelta(days=ALL_ORDERS_DAYS))
        )  # fmt: skip
        context: dict[str, Any] = {
            "shop_name": self.world.name,
            "scopes": scopes,
            "orders_since": orders_since,
        }
        result = execute(self.schema, document, variable_values=variables, operation_name=operation,
                         context_value=context)  # fmt: skip
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [self._execution_error(e) for e in result.errors]
            if any(e.get("extensions", {}).get("code") == "INVALID_VARIABLE" for e in payload["errors"]):
                # Shopify refuses a variable it cannot coerce before executing anything: no data, no path
                payload = {"errors": [{k: v for k, v in e.items() if k != "path"} for e in payload["errors"]]}
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

    def authenticated(self, token: str | None) -> bool:
        """A valid token: the legacy one, or a minted one not yet expired (which may use up one of
        the requests left before a planned expiry)."""
        c = self.control
        with c.lock:
            if token and token == c.legacy_token:
                return True
            expires = c.tokens.get(token or "")
            if expires is None:
                return False
            if expires <= time.time():
                del c.tokens[token]
                return False
            if c.expire_after is not None:
                if c.expire_after <= 0:
                    c.tokens.clear()
                    c.expire_after = None
                    return False
                c.expire_after -= 1
            return True

    async def access_token(self, request: Request) -> JSONResponse:
        """`POST /admin/oauth/access_token`: the client-credentials grant."""
        raw = await request.body()
        params: dict[str, Any]
        if "json" in request.headers.get("content-type", ""):
            try:
                params = json.loads(raw or b"{}")
            except ValueError:
                params = {}
            params = params if isinstance(params, dict) else {}
        else:
            params = dict(parse_qsl(raw.decode("utf-8", "replace")))
        grant = params.get("grant_type")
        if grant != "client_credentials":
            if not grant:
                return _oauth_error("invalid_request", "Missing required parameter: grant_type.", 400)
            return _oauth_error(
                "unsupported_grant_type", f"The authorization grant type {grant!r} is not supported.", 400
            )
        if not params.get("client_id") or not params.get("client_secret"):
            return _oauth_error(
                "invalid_request", "Missing required parameter: client_id or client_secret.", 400
            )
        if params["client_id"] != CLIENT_ID or not secrets.compare_digest(
            str(params["client_secret"]), CLIENT_SECRET
        ):
            return _oauth_error(
                "invalid_client",
                "Client authentication failed due to unknown client, no client authentication included, "
                "or unsupported authentication method.",
                401,
            )
        c = self.control
        with c.lock:
            token = f"shpat_{secrets.token_hex(16)}"
            c.tokens[token] = time.time() + c.token_ttl
            c.tokens_minted += 1
            ttl, scopes = c.token_ttl, c.scopes
        return JSONResponse({"access_token": token, "scope": ",".join(scopes), "expires_in": int(ttl)})

    async def graphql(self, request: Request) -> JSONResponse:
        served = served_version(request.path_params["version"])
        if served is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        headers = {"X-Shopify-API-Version": served}
        if not self.authenticated(request.headers.get("x-shopify-access-token")):
            return JSONResponse({"errors": INVALID_TOKEN}, status_code=401, headers=headers)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse(
                {"errors": {"query": "Required parameter missing or invalid"}},
                status_code=400,
                headers=headers,
            )
        payload = await run_in_threadpool(self.run, body)
        return JSONResponse(payload, headers=headers)

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
                if body.get("token_ttl") is not None:
                    c.token_ttl = float(body["token_ttl"])
                if body.get("expire_tokens"):
                    c.tokens.clear()
                if "expire_after_requests" in body:
                    after = body["expire_after_requests"]
                    c.expire_after = None if after is None else int(after)
                if body.get("scopes") is not None:
                    c.scopes = tuple(str(s) for s in body["scopes"])
                if "legacy_token" in body:
                    c.legacy_token = body["legacy_token"] or None
            if body.get("reset_tags"):
                self.world.tags.reset()
                self.world.forget_view()
        with c.lock:
            c.refill()
            now = time.time()
            return JSONResponse({
                "as_of": iso(c.as_of or self.world.end),
                "throttle_next": c.throttle_next,
                "throttleStatus": c.status(),
                "token_ttl": c.token_ttl,
                "tokens_minted": c.tokens_minted,
                "tokens_valid": sum(1 for expiry in c.tokens.values() if expiry > now),
                "expire_after_requests": c.expire_after,
                "scopes": list(c.scopes),
                "supported_versions": list(SUPPORTED_VERSIONS),
                **self.world.tags.totals(),
            })  # fmt: skip

    async def tags_route(self, _request: Request) -> JSONResponse:
        """`GET /_emulator/tags`: the customer tags written so far and the tag mutations per customer."""
        return JSONResponse(self.world.tags.state())


def create_app(world_dir: Path, faults: FaultInjector) -> Starlette:
    """The ASGI app over one world directory (the fault middleware is added by `running_emulator`)."""
    emulator = ShopifyEmulator(ShopifyWorld(Path(world_dir)), faults)
    app = Starlette(
        routes=[
            Route("/_emulator/control", emulator.control_route, methods=["GET", "POST"]),
            Route("/_emulator/tags", emulator.tags_route, methods=["GET"]),
            Route("/admin/oauth/access_token", emulator.access_token, methods=["POST"]),
            Route("/admin/api/{version}/graphql.json", emulator.graphql, methods=["POST"]),
        ]
    )
    app.state.emulator = emulator
    return app


def endpoint_env(base_url: str) -> dict[str, str]:
    """Env that points the Shopify connector at this emulator (same variables as for a real shop): a
    Dev Dashboard app's client credentials, so the demo and the tests mint expiring tokens."""
    return {
        "SHOPIFY_API_URL": base_url,
        "SHOPIFY_CLIENT_ID": CLIENT_ID,
        "SHOPIFY_CLIENT_SECRET": CLIENT_SECRET,
    }
