"""A thin client for the parts of Metabase's REST API that provisioning needs.

Session auth (`POST /api/session`, token in `X-Metabase-Session`), first-run setup, databases,
collections, cards and dashboards. It only speaks HTTP and knows the response shapes of the versions we
support (0.47+: dashboards carry `dashcards`; `GET /api/database` may wrap its list in `data`); what to
create or change is decided in `dashboards.provision`. Every call is recorded in `calls` so callers
(and tests) can see exactly which writes happened. Passwords are never logged or put in errors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger(__name__)

WRITE_METHODS = ("POST", "PUT", "DELETE")


class MetabaseError(RuntimeError):
    """Metabase answered with an error (or not at all); the message names the call, never a secret."""


@dataclass
class Call:
    method: str
    path: str
    status: int


@dataclass
class MetabaseClient:
    """Talks to one Metabase at `url` (e.g. http://localhost:3001)."""

    url: str
    timeout: float = 30.0
    http: requests.Session = field(default_factory=requests.Session)
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")

    # -- plumbing ---------------------------------------------------------------------------------
    def request(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            resp = self.http.request(
                method, f"{self.url}{path}", json=json, params=params, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise MetabaseError(f"{method} {path}: cannot reach Metabase at {self.url}: {exc}") from exc
        self.calls.append(Call(method, path, resp.status_code))
        log.debug("metabase %s %s -> %s", method, path, resp.status_code)
        if resp.status_code >= 400:
            raise MetabaseError(f"{method} {path} -> HTTP {resp.status_code}: {_error_text(resp)}")
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            return resp.text

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, payload: Any = None) -> Any:
        return self.request("POST", path, json=payload)

    def put(self, path: str, payload: Any) -> Any:
        return self.request("PUT", path, json=payload)

    def writes(self) -> list[Call]:
        """The create/update calls made so far (session and sync calls included; filter as needed)."""
        return [c for c in self.calls if c.method in WRITE_METHODS]

    # -- session and first-run setup ----------------------------------------------------------------
    def login(self, user: str, password: str) -> None:
        """Open a session; on a brand-new Metabase, create the admin user first (first-run setup)."""
        props = self.get("/api/session/properties") or {}
        if props.get("setup-token") and not props.get("has-user-setup", True):
            self.post(
                "/api/setup",
                {
                    "token": props["setup-token"],
                    "user": {
                        "email": user,
                        "password": password,
                        "first_name": "Journey",
                        "last_name": "Admin",
                        "site_name": "Customer Journey",
                    },
                    "prefs": {"site_name": "Customer Journey", "allow_tracking": False},
                },
            )
            log.info("metabase: first-run setup done, admin user %s created", user)
        token = self.post("/api/session", {"username": user, "password": password})["id"]
        self.http.headers["X-Metabase-Session"] = token

    # -- resources ----------------------------------------------------------------------------------
    def databases(self) -> list[dict[str, Any]]:
        return _listing(self.get("/api/database"))

    def database(self, database_id: int) -> dict[str, Any]:
        return self.get(f"/api/database/{database_id}")

    def create_database(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.post("/api/database", payload)

    def update_database(self, database_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        return self.put(f"/api/database/{database_id}", payload)

    def database_metadata(self, database_id: int) -> dict[str, Any]:
        """Tables and fields Metabase has synced for the database (`tables[].fields[]` with ids)."""
        return self.get(f"/api/database/{database_id}/metadata", include_hidden="true")

    def sync_schema(self, database_id: int) -> None:
        self.post(f"/api/database/{database_id}/sync_schema")

    def collections(self) -> list[dict[str, Any]]:
        return _listing(self.get("/api/collection"))

    def collection(self, collection_id: int) -> dict[str, Any]:
        return self.get(f"/api/collection/{collection_id}")

    def create_collection(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.post("/api/collection", payload)

    def collection_items(self, collection_id: int, model: str) -> list[dict[str, Any]]:
        return _listing(self.get(f"/api/collection/{collection_id}/items", models=model))

    def cards(self, archived: bool = False) -> list[dict[str, Any]]:
        return _listing(self.get("/api/card", f="archived" if archived else "all"))

    def card(self, card_id: int) -> dict[str, Any]:
        return self.get(f"/api/card/{card_id}")

    def create_card(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.post("/api/card", payload)

    def update_card(self, card_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        return self.put(f"/api/card/{card_id}", payload)

    def dashboard(self, dashboard_id: int) -> dict[str, Any]:
        dash = self.get(f"/api/dashboard/{dashboard_id}")
        if "dashcards" not in dash and "ordered_cards" in dash:  # Metabase < 0.47
            dash["dashcards"] = dash["ordered_cards"]
        return dash

    def create_dashboard(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.post("/api/dashboard", payload)

    def update_dashboard(self, dashboard_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        return self.put(f"/api/dashboard/{dashboard_id}", payload)


def _listing(body: Any) -> list[dict[str, Any]]:
    """Metabase lists come bare or wrapped as {"data": [...], "total": n} depending on endpoint/version."""
    if isinstance(body, dict) and "data" in body:
        return list(body["data"])
    if isinstance(body, list):
        return body
    raise MetabaseError(f"unexpected listing shape: {type(body).__name__}")


def _error_text(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("errors") or body)[:300]
    return str(body)[:300]
