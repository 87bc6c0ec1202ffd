"""Provision Metabase from the YAML definitions, idempotently; export a dashboard back to YAML.

`apply` makes Metabase look like the definitions and does nothing else:
- the warehouse connection (as the read-only `reporter` role) is created, or updated when host, port,
  database or user differ; a schema sync is triggered only when it was created or changed;
- one collection (by name) holds the cards and dashboards;
- every card carries a stable key in its description (`[journey:key=<dashboard>.<card>]`), so an edited
  card is updated in place (PUT on the same id) instead of duplicated, and a card removed from the YAML
  is archived;
- a PUT is sent only when what Metabase holds differs from the definition, so a second `apply` with
  unchanged YAML makes no create or update call at all;
- field filters (`category`, `date_range`) become `dimension` template tags on the Metabase field of
  their column, looked up in the database's synced metadata (a sync is triggered and waited for when a
  column is not there yet: a mart built after the last sync).

No state file is needed: the keys live in Metabase itself, so applying from another machine (or CI)
finds the same cards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dashboards import native_sql
from dashboards.metabase_client import MetabaseClient, MetabaseError
from dashboards.model import Card, Dashboard, Layout, Owner, Parameter, dump_dashboard

log = logging.getLogger(__name__)

DATABASE_NAME = "Customer Journey warehouse"
MARKER_RE = re.compile(r"\s*\[journey:key=([a-z0-9_]+)\.([a-z0-9_]+)\]\s*$")
DASHBOARD_MARKER_RE = re.compile(r"\s*\[journey:dashboard=([a-z0-9_]+)\]\s*$")
PARAMETER_TYPES = {
    "text": "string/=", "date": "date/single", "number": "number/=", "date_range": "date/all-options",
    "category": "string/=",
}  # fmt: skip
SECTIONS = {"text": "string", "date": "date", "number": "number", "date_range": "date", "category": "string"}
SYNC_WAIT_SECONDS = 120.0  # how long apply waits for Metabase to sync a column a field filter needs
_NAMESPACE = uuid.UUID("6f1e8a52-6a55-4c5e-9f55-5d1f2b8a7c11")


# -- the warehouse connection ------------------------------------------------------------------------
@dataclass(frozen=True)
class DatabaseSpec:
    """How Metabase reaches the warehouse; the password is sent, never compared or logged."""

    host: str
    port: int
    dbname: str
    user: str
    password: str | None = None
    name: str = DATABASE_NAME

    def payload(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
            "ssl": False,
            "tunnel-enabled": False,
        }
        if self.password:
            details["password"] = self.password
        return {"name": self.name, "engine": "postgres", "details": details, "is_full_sync": True}

    def differs_from(self, current: dict[str, Any]) -> bool:
        details = current.get("details") or {}
        return (
            current.get("engine") != "postgres"
            or str(details.get("host")) != self.host
            or int(details.get("port") or 5432) != self.port
            or details.get("dbname") != self.dbname
            or details.get("user") != self.user
        )


def reporter_database(
    db_host: str | None = None, db_port: int | None = None, env: dict[str, str] | None = None
) -> DatabaseSpec:
    """The warehouse as the `reporter` role, from WAREHOUSE_* settings and REPORTER_PASSWORD.

    `db_host`/`db_port` override what the URL says, because Metabase may see the warehouse under
    another name (`host.docker.internal`, or the compose service `postgres` on its internal port).
    """
    from ingestion.warehouse import WarehouseSettings
    from ingestion.warehouse.settings import ROLE_USERS

    env = dict(os.environ if env is None else env)
    parts = WarehouseSettings.from_env(env).parts("reporter")
    reporter = ROLE_USERS["reporter"]
    # parts("reporter") is the reporter's own login: WAREHOUSE_REPORTER_URL, or the WAREHOUSE_URL host
    # with REPORTER_PASSWORD (it refuses to fall back to the admin), or the embedded server's generated
    # password. Metabase must only ever hold the read-only role.
    password = parts["password"] if parts["user"] == reporter else None
    return DatabaseSpec(
        host=db_host or str(parts["host"]),
        port=int(db_port or parts["port"] or 5432),
        dbname=str(parts["database"]),
        user=reporter,
        password=str(password) if password else None,
    )


# -- payloads ---------------------------------------------------------------------------------------
def card_marker(dashboard: Dashboard, card: Card) -> str:
    return f"[journey:key={dashboard.key}.{card.key}]"


def dashboard_marker(dashboard: Dashboard) -> str:
    return f"[journey:dashboard={dashboard.key}]"


def _with_marker(text: str, marker: str) -> str:
    return f"{text.strip()}\n\n{marker}" if text.strip() else marker


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def parameter_id(dashboard: Dashboard, param: Parameter) -> str:
    """Metabase parameter ids are free-form strings; a hash keeps them stable across applies."""
    return hashlib.sha1(f"{dashboard.key}/{param.key}".encode()).hexdigest()[:8]


FieldIds = dict[str, int]  # "schema.table.column" -> Metabase field id


def template_tags(
    dashboard: Dashboard, card: Card, field_ids: FieldIds | None = None
) -> dict[str, dict[str, Any]]:
    """The card's `{{tags}}` as Metabase template tags, typed by the dashboard parameter they wire to:
    variables keep their type, field filters are `dimension` tags on their column's Metabase field."""
    required = native_sql.required_tags(card.sql)
    fields = dashboard.tag_fields(card)
    tags: dict[str, dict[str, Any]] = {}
    for name in card.tags:
        param = dashboard.parameter(name)
        tag: dict[str, Any] = {
            "id": _stable_id(dashboard.key, card.key, name),
            "name": name,
            "display-name": param.name,
            "type": param.type,
            "required": name in required,
        }
        if param.is_field_filter:
            tag["type"] = "dimension"
            tag["dimension"] = ["field", (field_ids or {})[fields[name]], None]
            tag["widget-type"] = PARAMETER_TYPES[param.type]
        if param.default is not None:
            tag["default"] = param.default
        tags[name] = tag
    return tags


def card_payload(
    dashboard: Dashboard, card: Card, database_id: int, collection_id: int, field_ids: FieldIds | None = None
) -> dict[str, Any]:
    return {
        "name": card.name,
        "description": _with_marker(card.description, card_marker(dashboard, card)),
        "display": card.display,
        "visualization_settings": card.visualization_settings,
        "collection_id": collection_id,
        "dataset_query": {
            "type": "native",
            "database": database_id,
            "native": {"query": card.sql, "template-tags": template_tags(dashboard, card, field_ids)},
        },
    }


def parameters_payload(dashboard: Dashboard) -> list[dict[str, Any]]:
    out = []
    for param in dashboard.parameters:
        item: dict[str, Any] = {
            "id": parameter_id(dashboard, param),
            "name": param.name,
            "slug": param.key,
            "type": PARAMETER_TYPES[param.type],
            "sectionId": SECTIONS[param.type],
        }
        if param.default is not None:
            item["default"] = param.default
        if param.required:
            item["required"] = True
        if param.values is not None:
            item["values_query_type"] = "list"
            item["values_source_type"] = "static-list"
            item["values_source_config"] = {"values": list(param.values)}
        out.append(item)
    return out


def dashcards_payload(
    dashboard: Dashboard, card_ids: dict[str, int], existing: dict[int, int]
) -> list[dict[str, Any]]:
    """Layout + filter wiring; reuses dashcard ids by card id, new dashcards get negative ids."""
    out = []
    new_id = 0
    for card in dashboard.cards:
        card_id = card_ids[card.key]
        if card_id in existing:
            dashcard_id = existing[card_id]
        else:
            new_id -= 1
            dashcard_id = new_id
        out.append(
            {
                "id": dashcard_id,
                "card_id": card_id,
                **card.layout.model_dump(),
                "parameter_mappings": [
                    {
                        "parameter_id": parameter_id(dashboard, dashboard.parameter(tag)),
                        "card_id": card_id,
                        "target": [
                            "dimension" if dashboard.parameter(tag).is_field_filter else "variable",
                            ["template-tag", tag],
                        ],
                    }
                    for tag in card.tags
                ],
                "visualization_settings": {},
            }
        )
    return out


# -- comparing with what Metabase holds -------------------------------------------------------------
def native_of(card: dict[str, Any]) -> tuple[str | None, dict[str, Any], Any]:
    """(query, template tags, database) of a native card, in the legacy or the MBQL 5 (stages) shape."""
    dq = card.get("dataset_query") or {}
    if isinstance(dq.get("native"), dict):
        native = dq["native"]
        return native.get("query"), native.get("template-tags") or {}, dq.get("database")
    stages = dq.get("stages") or []
    if stages and isinstance(stages[0], dict) and "native" in stages[0]:
        return stages[0]["native"], stages[0].get("template-tags") or {}, dq.get("database")
    return None, {}, dq.get("database")


def _subset(want: Any, have: Any) -> bool:
    """True when every key of `want` is in `have` with an equal value (recursively for dicts)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and _subset(v, have[k]) for k, v in want.items())
    return want == have


def card_differs(payload: dict[str, Any], current: dict[str, Any]) -> bool:
    query, tags, database = native_of(current)
    want = payload["dataset_query"]
    want_tags = want["native"]["template-tags"]
    return (
        current.get("archived", False)
        or any(current.get(k) != payload[k] for k in ("name", "description", "display", "collection_id"))
        or (current.get("visualization_settings") or {}) != payload["visualization_settings"]
        or query != want["native"]["query"]
        or database != want["database"]
        or set(tags) != set(want_tags)
        or not all(_subset(t, tags[name]) for name, t in want_tags.items())
    )


def _mapping_key(m: dict[str, Any]) -> tuple[str, int, str]:
    return (m.get("parameter_id"), m.get("card_id"), json.dumps(m.get("target")))


def dashboard_differs(
    payload: dict[str, Any], current: dict[str, Any], dashcards: list[dict[str, Any]]
) -> bool:
    if any(current.get(k) != payload[k] for k in ("name", "description", "collection_id")):
        return True
    have_params = current.get("parameters") or []
    if [p.get("id") for p in have_params] != [p["id"] for p in payload["parameters"]]:
        return True
    if not all(_subset(w, h) for w, h in zip(payload["parameters"], have_params, strict=True)):
        return True
    have = {dc.get("card_id"): dc for dc in current.get("dashcards") or []}
    if set(have) != {dc["card_id"] for dc in dashcards}:
        return True
    for want in dashcards:
        got = have[want["card_id"]]
        if any(got.get(k) != want[k] for k in ("row", "col", "size_x", "size_y")):
            return True
        if {_mapping_key(m) for m in got.get("parameter_mappings") or []} != {
            _mapping_key(m) for m in want["parameter_mappings"]
        }:
            return True
    return False


# -- apply ------------------------------------------------------------------------------------------
@dataclass
class ApplyReport:
    database_id: int = 0
    collection_id: int = 0
    dashboards: dict[str, int] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    synced: bool = False

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.archived)} archived, "
            f"{len(self.unchanged)} unchanged" + ("; schema sync triggered" if self.synced else "")
        )


def ensure_database(client: MetabaseClient, spec: DatabaseSpec, report: ApplyReport) -> int:
    matches = [db for db in client.databases() if db.get("name") == spec.name]
    if not matches:
        db = client.create_database(spec.payload())
        report.created.append(f"database {spec.name}")
        report.synced = True
        client.sync_schema(db["id"])
        return db["id"]
    db_id = min(db["id"] for db in matches)
    if spec.differs_from(client.database(db_id)):
        client.update_database(db_id, spec.payload())
        report.updated.append(f"database {spec.name}")
        report.synced = True
        client.sync_schema(db_id)
    else:
        report.unchanged.append(f"database {spec.name}")
    return db_id


def ensure_collection(client: MetabaseClient, name: str, report: ApplyReport) -> int:
    for coll in client.collections():
        if (
            coll.get("name") == name
            and isinstance(coll.get("id"), int)
            and not coll.get("archived")
            and coll.get("personal_owner_id") is None
        ):
            report.unchanged.append(f"collection {name}")
            return coll["id"]
    coll = client.create_collection(
        {"name": name, "description": "Dashboards provisioned from dashboards/definitions (as code)."}
    )
    report.created.append(f"collection {name}")
    return coll["id"]


def _field_ids(client: MetabaseClient, database_id: int) -> FieldIds:
    tables = client.database_metadata(database_id).get("tables") or []
    return {
        f"{t.get('schema')}.{t.get('name')}.{f.get('name')}": f["id"]
        for t in tables
        for f in t.get("fields") or []
    }


def resolve_fields(
    client: MetabaseClient,
    database_id: int,
    needed: set[str],
    wait: float = SYNC_WAIT_SECONDS,
    sleep: Any = time.sleep,
) -> FieldIds:
    """Metabase field ids of the columns the field filters filter. A column Metabase has not synced
    yet (a mart built after its last sync) triggers a schema sync, then apply waits for it up to `wait`
    seconds; still missing, the error names the columns."""
    ids = _field_ids(client, database_id)
    missing = sorted(needed - ids.keys())
    if missing:
        client.sync_schema(database_id)
        deadline = time.monotonic() + wait
        while missing and time.monotonic() < deadline:
            sleep(2.0)
            ids = _field_ids(client, database_id)
            missing = sorted(needed - ids.keys())
    if missing:
        raise MetabaseError(
            f"Metabase does not know the column(s) {', '.join(missing)} of the field filters after a schema "
            f"sync ({wait:.0f} s): build the marts (the nightly job), check that the reporter role can read "
            "them, then run `journey dashboards apply` again"
        )
    return {name: ids[name] for name in needed}


def _cards_by_key(client: MetabaseClient) -> dict[tuple[str, str], dict[str, Any]]:
    """Existing cards that carry a journey key: live ones first, then archived ones (restored in place
    if their card comes back to the YAML); the oldest wins if a card was duplicated in the UI."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    live = sorted(client.cards(), key=lambda c: c["id"])
    archived = sorted(client.cards(archived=True), key=lambda c: c["id"])
    for card in live + [{**c, "archived": True} for c in archived]:
        match = MARKER_RE.search(card.get("description") or "")
        if match:
            found.setdefault((match.group(1), match.group(2)), card)
    return found


def _dashboard_by_key(client: MetabaseClient, collection_id: int, key: str) -> int | None:
    for item in sorted(client.collection_items(collection_id, "dashboard"), key=lambda i: i["id"]):
        match = DASHBOARD_MARKER_RE.search(item.get("description") or "")
        if match and match.group(1) == key:
            return item["id"]
    return None


def apply_dashboard(
    client: MetabaseClient,
    dashboard: Dashboard,
    database_id: int,
    collection_id: int,
    existing_cards: dict[tuple[str, str], dict[str, Any]],
    report: ApplyReport,
    field_ids: FieldIds | None = None,
) -> int:
    card_ids: dict[str, int] = {}
    for card in dashboard.cards:
        payload = card_payload(dashboard, card, database_id, collection_id, field_ids)
        label = f"card {dashboard.key}.{card.key}"
        current = existing_cards.get((dashboard.key, card.key))
        if current is None:
            card_ids[card.key] = client.create_card(payload)["id"]
            report.created.append(label)
        elif card_differs(payload, current):
            client.update_card(current["id"], {**payload, "archived": False})
            card_ids[card.key] = current["id"]
            report.updated.append(label)
        else:
            card_ids[card.key] = current["id"]
            report.unchanged.append(label)

    keys = {c.key for c in dashboard.cards}
    for (dash_key, card_key), current in existing_cards.items():
        if dash_key == dashboard.key and card_key not in keys and not current.get("archived"):
            client.update_card(current["id"], {"archived": True})
            report.archived.append(f"card {dash_key}.{card_key}")

    description = _with_marker(dashboard.description, dashboard_marker(dashboard))
    base = {
        "name": dashboard.name,
        "description": description,
        "collection_id": collection_id,
        "parameters": parameters_payload(dashboard),
    }
    label = f"dashboard {dashboard.key}"
    dashboard_id = _dashboard_by_key(client, collection_id, dashboard.key)
    if dashboard_id is None:
        dashboard_id = client.create_dashboard(base)["id"]
        current: dict[str, Any] = {"dashcards": []}
        report.created.append(label)
        created = True
    else:
        current = client.dashboard(dashboard_id)
        created = False
    existing_dashcards = {dc["card_id"]: dc["id"] for dc in current.get("dashcards") or []}
    dashcards = dashcards_payload(dashboard, card_ids, existing_dashcards)
    if created or dashboard_differs(base, current, dashcards):
        client.update_dashboard(dashboard_id, {**base, "dashcards": dashcards})
        if not created:
            report.updated.append(label)
    else:
        report.unchanged.append(label)
    return dashboard_id


def apply(
    client: MetabaseClient,
    dashboards: Iterable[Dashboard],
    database: DatabaseSpec,
    collection: str | None = None,
    sync_wait: float = SYNC_WAIT_SECONDS,
) -> ApplyReport:
    """Make Metabase match `dashboards` (client must be logged in). Safe to run any number of times."""
    dashboards = list(dashboards)
    report = ApplyReport()
    report.database_id = ensure_database(client, database, report)
    names = {collection} if collection else {d.collection for d in dashboards}
    collections = {name: ensure_collection(client, name, report) for name in sorted(names)}
    existing = _cards_by_key(client)
    needed = {f for d in dashboards for p in d.parameters if p.is_field_filter for f in p.fields}
    field_ids = resolve_fields(client, report.database_id, needed, wait=sync_wait) if needed else {}
    for dashboard in dashboards:
        coll_id = collections[collection or dashboard.collection]
        report.collection_id = coll_id
        report.dashboards[dashboard.key] = apply_dashboard(
            client, dashboard, report.database_id, coll_id, existing, report, field_ids
        )
    log.info("metabase apply: %s", report.summary())
    return report


# -- export -----------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug if slug and slug[0].isalpha() else f"x_{slug}"


def _strip_marker(text: str | None, pattern: re.Pattern[str]) -> tuple[str, re.Match[str] | None]:
    text = text or ""
    match = pattern.search(text)
    return (text[: match.start()].strip() if match else text.strip()), match


_REVERSE_TYPES = {v: k for k, v in PARAMETER_TYPES.items()}


def _parameter_from(item: dict[str, Any], fields: list[str] | None = None) -> Parameter:
    mb_type = item.get("type", "string/=")
    ptype = _REVERSE_TYPES.get(mb_type) or (
        "date" if mb_type.startswith("date") else "number" if mb_type.startswith("number") else "text"
    )
    if fields:  # wired to dimension tags: a field filter
        ptype = "date_range" if mb_type.startswith("date") else "category"
    elif ptype in ("date_range", "category"):
        ptype = "date" if ptype == "date_range" else "text"
    values = (item.get("values_source_config") or {}).get("values")
    default = item.get("default")
    if isinstance(default, list):  # newer Metabase stores filter defaults as lists
        default = default[0] if default else None
    return Parameter(
        key=_slug(item.get("slug") or item["name"]),
        name=item["name"],
        type=ptype,
        default=None if default is None else str(default),
        values=[str(v[0] if isinstance(v, list) else v) for v in values] if values else None,
        required=bool(item.get("required", False)),
        fields=list(dict.fromkeys(fields or [])),
    )


def export_dashboard(client: MetabaseClient, dashboard_id: int) -> Dashboard:
    """Read a dashboard (ours or hand-made) back into the YAML model.

    Cards keep their journey key when they have one (else a slug of the name); a template tag wired to
    a filter whose slug differs from the tag name is renamed to the slug in the SQL, since in the YAML
    a tag and its filter share one name.
    """
    dash = client.dashboard(dashboard_id)
    description, dmatch = _strip_marker(dash.get("description"), DASHBOARD_MARKER_RE)
    # field filters: the columns of the dimension tags each parameter is wired to
    names: dict[int, str] | None = None
    param_fields: dict[str, list[str]] = {}
    # text/heading dashcards have no card; the others' cards, fetched once
    dashcards = [
        dc
        for dc in sorted(dash.get("dashcards") or [], key=lambda d: (d["row"], d["col"]))
        if dc.get("card_id")
    ]
    mb_cards = {dc["card_id"]: dc.get("card") or client.card(dc["card_id"]) for dc in dashcards}
    for dc in dashcards:
        _query, tags, database = native_of(mb_cards[dc["card_id"]])
        for mapping in dc.get("parameter_mappings") or []:
            target = mapping.get("target") or []
            if len(target) == 2 and target[0] == "dimension":
                dimension = (tags.get(target[1][1]) or {}).get("dimension") or []
                if names is None:
                    names = {v: k for k, v in _field_ids(client, database).items()}
                if len(dimension) > 1 and dimension[1] in names:
                    param_fields.setdefault(mapping["parameter_id"], []).append(names[dimension[1]])
    params = {p["id"]: _parameter_from(p, param_fields.get(p["id"])) for p in dash.get("parameters") or []}
    collection_name = "Customer Journey"
    if isinstance(dash.get("collection_id"), int):
        collection_name = client.collection(dash["collection_id"])["name"]

    cards: list[Card] = []
    for dc in dashcards:
        mb_card = mb_cards[dc["card_id"]]
        query, _tags, _db = native_of(mb_card)
        if query is None:
            raise MetabaseError(f"card {dc['card_id']} is not a native SQL question; cannot export it")
        for mapping in dc.get("parameter_mappings") or []:
            target = mapping.get("target") or []
            if (
                len(target) == 2
                and target[0] in ("variable", "dimension")
                and mapping["parameter_id"] in params
            ):
                tag = target[1][1]
                key = params[mapping["parameter_id"]].key
                if tag != key:
                    query = re.sub(r"\{\{\s*" + re.escape(tag) + r"\s*\}\}", "{{" + key + "}}", query)
        card_description, cmatch = _strip_marker(mb_card.get("description"), MARKER_RE)
        cards.append(
            Card(
                key=cmatch.group(2) if cmatch else _slug(mb_card["name"]),
                name=mb_card["name"],
                description=card_description,
                display=mb_card["display"],
                sql=query,
                visualization_settings=mb_card.get("visualization_settings") or {},
                layout=Layout(row=dc["row"], col=dc["col"], size_x=dc["size_x"], size_y=dc["size_y"]),
            )
        )
    return Dashboard(
        key=dmatch.group(1) if dmatch else _slug(dash["name"]),
        name=dash["name"],
        description=description,
        collection=collection_name,
        owner=Owner(),
        parameters=list(params.values()),
        cards=cards,
    )


def export(client: MetabaseClient, dashboard_id: int) -> str:
    """YAML text for an existing Metabase dashboard (see `export_dashboard`)."""
    return dump_dashboard(export_dashboard(client, dashboard_id))
