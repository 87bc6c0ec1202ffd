"""A small in-memory Metabase that speaks the REST shapes the provisioner uses, over real HTTP.

Metabase itself (a JVM app, usually run from Docker) cannot run on the test machine, so this server
stands in for it: session auth with `X-Metabase-Session`, first-run setup, `/api/database` (wrapped
listing, redacted password), collections and their items, native cards, dashboards with `dashcards`
(negative ids create, omitted ones are removed) and parameter mappings, and a database's synced
metadata (`/api/database/:id/metadata`: the warehouse's tables and fields with ids, known only after a
schema sync, like Metabase's). It validates what real Metabase would refuse or silently break on
(unknown database, a mapping to a parameter or template tag that does not exist, a `dimension` tag on
a field that does not exist, a `dimension` mapping to a variable tag, a dashcard id from another
dashboard) and logs every request so tests can count writes. `mbql5=True` returns cards in the newer
`stages` query shape. `tables`: what a sync finds, `{"schema.table": [column, ...]}`.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

REDACTED = "**MetabasePass**"


@dataclass
class FakeMetabase:
    user: str = "admin@example.com"
    password: str = "s3cret-Pass"
    has_user: bool = True
    mbql5: bool = False
    databases: dict[int, dict[str, Any]] = field(default_factory=dict)
    collections: dict[int, dict[str, Any]] = field(default_factory=dict)
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[int, dict[str, Any]] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    syncs: list[int] = field(default_factory=list)
    tables: dict[str, list[str]] = field(default_factory=dict)
    syncs_before_metadata: int = 1  # schema syncs a database needs before its metadata lists tables
    _ids: dict[str, int] = field(default_factory=dict)
    _tokens: set[str] = field(default_factory=set)
    setup_token: str = field(default_factory=lambda: secrets.token_hex(8))

    # -- helpers ----------------------------------------------------------------------------------
    def next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def writes(self) -> list[tuple[str, str]]:
        """POST/PUT/DELETE requests, without logging in (which is not a change to Metabase)."""
        return [(m, p) for m, p in self.log if m != "GET" and p not in ("/api/session", "/api/setup")]

    def card_out(self, card: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(card)
        if self.mbql5:
            native = out["dataset_query"]["native"]
            out["dataset_query"] = {
                "lib/type": "mbql/query",
                "database": out["dataset_query"]["database"],
                "stages": [
                    {
                        "lib/type": "mbql.stage/native",
                        "native": native["query"],
                        "template-tags": native.get("template-tags", {}),
                    }
                ],
            }
        return out

    def dashboard_out(self, dash: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dash)
        for dc in out["dashcards"]:
            dc["card"] = self.card_out(self.cards[dc["card_id"]])
        return out

    # -- the app ----------------------------------------------------------------------------------
    def app(self) -> Starlette:
        routes = [
            Route("/api/session/properties", self.session_properties, methods=["GET"]),
            Route("/api/setup", self.setup, methods=["POST"]),
            Route("/api/session", self.session, methods=["POST"]),
            Route("/api/database", self.database_list, methods=["GET", "POST"]),
            Route("/api/database/{id:int}", self.database_one, methods=["GET", "PUT"]),
            Route("/api/database/{id:int}/sync_schema", self.sync_schema, methods=["POST"]),
            Route("/api/database/{id:int}/metadata", self.metadata, methods=["GET"]),
            Route("/api/collection", self.collection_list, methods=["GET", "POST"]),
            Route("/api/collection/{id:int}", self.collection_one, methods=["GET"]),
            Route("/api/collection/{id:int}/items", self.collection_items, methods=["GET"]),
            Route("/api/card", self.card_list, methods=["GET", "POST"]),
            Route("/api/card/{id:int}", self.card_one, methods=["GET", "PUT"]),
            Route("/api/dashboard", self.dashboard_create, methods=["POST"]),
            Route("/api/dashboard/{id:int}", self.dashboard_one, methods=["GET", "PUT"]),
        ]
        return _Guard(self, Starlette(routes=routes))

    # -- session ----------------------------------------------------------------------------------
    async def session_properties(self, request: Request) -> Response:
        return JSONResponse(
            {"setup-token": None if self.has_user else self.setup_token, "has-user-setup": self.has_user}
        )

    async def setup(self, request: Request) -> Response:
        body = await request.json()
        if self.has_user or body.get("token") != self.setup_token:
            return JSONResponse({"message": "setup already done or bad token"}, status_code=403)
        self.user, self.password, self.has_user = body["user"]["email"], body["user"]["password"], True
        return JSONResponse({"id": self._new_token()})

    async def session(self, request: Request) -> Response:
        body = await request.json()
        if (body.get("username"), body.get("password")) != (self.user, self.password):
            return JSONResponse({"errors": {"password": "did not match stored password"}}, status_code=401)
        return JSONResponse({"id": self._new_token()})

    def _new_token(self) -> str:
        token = secrets.token_hex(16)
        self._tokens.add(token)
        return token

    # -- databases --------------------------------------------------------------------------------
    def _db_out(self, db: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(db)
        if "password" in out["details"]:
            out["details"]["password"] = REDACTED
        return out

    async def database_list(self, request: Request) -> Response:
        if request.method == "GET":
            data = [self._db_out(db) for db in self.databases.values()]
            return JSONResponse({"data": data, "total": len(data)})
        body = await request.json()
        error = _database_error(body)
        if error:
            return JSONResponse({"message": error}, status_code=400)
        db = {"id": self.next_id("database"), **body}
        self.databases[db["id"]] = db
        return JSONResponse(self._db_out(db))

    async def database_one(self, request: Request) -> Response:
        db = self.databases.get(request.path_params["id"])
        if db is None:
            return JSONResponse({"message": "Not found."}, status_code=404)
        if request.method == "PUT":
            body = await request.json()
            error = _database_error({**db, **body})
            if error:
                return JSONResponse({"message": error}, status_code=400)
            db.update(body)
        return JSONResponse(self._db_out(db))

    async def sync_schema(self, request: Request) -> Response:
        if request.path_params["id"] not in self.databases:
            return JSONResponse({"message": "Not found."}, status_code=404)
        self.syncs.append(request.path_params["id"])
        return JSONResponse({"status": "ok"})

    def field_ids(self) -> dict[str, int]:
        """Stable ids of the synced fields: "schema.table.column" -> id."""
        ids, n = {}, 0
        for table in sorted(self.tables):
            for column in self.tables[table]:
                n += 1
                ids[f"{table}.{column}"] = 1000 + n
        return ids

    async def metadata(self, request: Request) -> Response:
        db_id = request.path_params["id"]
        if db_id not in self.databases:
            return JSONResponse({"message": "Not found."}, status_code=404)
        synced = self.syncs.count(db_id) >= self.syncs_before_metadata
        ids = self.field_ids()
        tables = []
        for i, table in enumerate(sorted(self.tables) if synced else []):
            schema, name = table.split(".")
            fields = [{"id": ids[f"{table}.{c}"], "name": c, "table_id": i + 1} for c in self.tables[table]]
            tables.append({"id": i + 1, "schema": schema, "name": name, "fields": fields})
        return JSONResponse({"id": db_id, "tables": tables})

    # -- collections ------------------------------------------------------------------------------
    async def collection_list(self, request: Request) -> Response:
        if request.method == "GET":
            root = {"id": "root", "name": "Our analytics", "personal_owner_id": None}
            return JSONResponse([root, *self.collections.values()])
        body = await request.json()
        if not body.get("name"):
            return JSONResponse({"errors": {"name": "value must be a non-blank string."}}, status_code=400)
        coll = {"id": self.next_id("collection"), "name": body["name"], "archived": False,
                "description": body.get("description"), "personal_owner_id": None}  # fmt: skip
        self.collections[coll["id"]] = coll
        return JSONResponse(coll)

    async def collection_one(self, request: Request) -> Response:
        coll = self.collections.get(request.path_params["id"])
        return JSONResponse(coll) if coll else JSONResponse({"message": "Not found."}, status_code=404)

    async def collection_items(self, request: Request) -> Response:
        cid = request.path_params["id"]
        model = request.query_params.get("models")
        items = []
        if model in (None, "dashboard"):
            items += [{"id": d["id"], "model": "dashboard", "name": d["name"], "description": d["description"]}
                      for d in self.dashboards.values() if d["collection_id"] == cid and not d["archived"]]  # fmt: skip
        if model in (None, "card"):
            items += [{"id": c["id"], "model": "card", "name": c["name"], "description": c["description"]}
                      for c in self.cards.values() if c["collection_id"] == cid and not c["archived"]]  # fmt: skip
        return JSONResponse({"data": items, "total": len(items)})

    # -- cards ------------------------------------------------------------------------------------
    def _card_error(self, card: dict[str, Any]) -> str | None:
        for key in ("name", "display", "dataset_query", "visualization_settings"):
            if key not in card:
                return f"{key} is required"
        dq = card["dataset_query"]
        if dq.get("type") != "native" or dq.get("database") not in self.databases:
            return "dataset_query must be a native query on an existing database"
        known_fields = set(self.field_ids().values())
        for name, tag in dq["native"].get("template-tags", {}).items():
            if (
                tag.get("name") != name
                or not tag.get("id")
                or tag.get("type") not in ("text", "number", "date", "dimension")
            ):
                return f"invalid template tag {name!r}"
            if tag["type"] == "dimension":
                dimension = tag.get("dimension") or []
                if len(dimension) < 2 or dimension[0] != "field" or dimension[1] not in known_fields:
                    return f"template tag {name!r}: dimension {dimension} is not a field of the database"
                if not tag.get("widget-type"):
                    return f"template tag {name!r}: a field filter needs a widget-type"
        if card.get("collection_id") is not None and card["collection_id"] not in self.collections:
            return "collection does not exist"
        return None

    async def card_list(self, request: Request) -> Response:
        if request.method == "GET":
            archived = request.query_params.get("f") == "archived"
            return JSONResponse([self.card_out(c) for c in self.cards.values() if c["archived"] == archived])
        body = await request.json()
        error = self._card_error(body)
        if error:
            return JSONResponse({"message": error}, status_code=400)
        card = {"id": self.next_id("card"), "archived": False, "description": None, "collection_id": None,
                **body}  # fmt: skip
        self.cards[card["id"]] = card
        return JSONResponse(self.card_out(card))

    async def card_one(self, request: Request) -> Response:
        card = self.cards.get(request.path_params["id"])
        if card is None:
            return JSONResponse({"message": "Not found."}, status_code=404)
        if request.method == "PUT":
            updated = {**card, **(await request.json())}
            error = self._card_error(updated)
            if error:
                return JSONResponse({"message": error}, status_code=400)
            card.update(updated)
        return JSONResponse(self.card_out(card))

    # -- dashboards -------------------------------------------------------------------------------
    async def dashboard_create(self, request: Request) -> Response:
        body = await request.json()
        if not body.get("name"):
            return JSONResponse({"errors": {"name": "value must be a non-blank string."}}, status_code=400)
        dash = {"id": self.next_id("dashboard"), "name": body["name"], "description": body.get("description"),
                "collection_id": body.get("collection_id"), "parameters": body.get("parameters", []),
                "archived": False, "dashcards": []}  # fmt: skip
        self.dashboards[dash["id"]] = dash
        return JSONResponse(self.dashboard_out(dash))

    async def dashboard_one(self, request: Request) -> Response:
        dash = self.dashboards.get(request.path_params["id"])
        if dash is None:
            return JSONResponse({"message": "Not found."}, status_code=404)
        if request.method == "GET":
            return JSONResponse(self.dashboard_out(dash))
        body = await request.json()
        params = body.get("parameters", dash["parameters"])
        if "dashcards" in body:
            error = self._dashcards_error(dash, body["dashcards"], {p["id"] for p in params})
            if error:
                return JSONResponse({"message": error}, status_code=400)
            kept = []
            for dc in body["dashcards"]:
                dc = {k: v for k, v in dc.items() if k != "card"}
                if dc["id"] < 0:
                    dc["id"] = self.next_id("dashcard")
                kept.append(dc)
            dash["dashcards"] = kept
        for key in ("name", "description", "collection_id", "parameters", "archived"):
            if key in body:
                dash[key] = body[key]
        return JSONResponse(self.dashboard_out(dash))

    def _dashcards_error(self, dash: dict[str, Any], dashcards: list[dict[str, Any]], params: set[str]):
        own = {dc["id"] for dc in dash["dashcards"]}
        for dc in dashcards:
            if dc["id"] >= 0 and dc["id"] not in own:
                return f"dashcard {dc['id']} is not on dashboard {dash['id']}"
            card = self.cards.get(dc.get("card_id"))
            if card is None:
                return f"card {dc.get('card_id')} does not exist"
            for key in ("row", "col", "size_x", "size_y"):
                if not isinstance(dc.get(key), int):
                    return f"dashcard needs integer {key}"
            tags = card["dataset_query"]["native"].get("template-tags", {})
            for m in dc.get("parameter_mappings", []):
                if m["parameter_id"] not in params:
                    return f"mapping to unknown dashboard parameter {m['parameter_id']}"
                target = m["target"]
                if (
                    target[0] not in ("variable", "dimension")
                    or target[1][0] != "template-tag"
                    or target[1][1] not in tags
                ):
                    return f"mapping target {target} is not a template tag of card {card['id']}"
                if (target[0] == "dimension") != (tags[target[1][1]].get("type") == "dimension"):
                    return (
                        f"mapping target {target}: 'dimension' targets field filters, 'variable' the others"
                    )
        return None


class _Guard:
    """ASGI wrapper: log every request, and refuse all but the session endpoints without a token."""

    PUBLIC = ("/api/session", "/api/session/properties", "/api/setup")

    def __init__(self, state: FakeMetabase, app: Starlette) -> None:
        self.state, self.app = state, app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.state.log.append((scope["method"], scope["path"]))
            headers = dict(scope["headers"])
            token = headers.get(b"x-metabase-session", b"").decode()
            if scope["path"] not in self.PUBLIC and token not in self.state._tokens:
                await Response("Unauthenticated", status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _database_error(body: dict[str, Any]) -> str | None:
    if body.get("engine") != "postgres":
        return "engine must be postgres here"
    details = body.get("details") or {}
    missing = [k for k in ("host", "port", "dbname", "user") if not details.get(k)]
    return f"details missing {missing}" if missing else None
