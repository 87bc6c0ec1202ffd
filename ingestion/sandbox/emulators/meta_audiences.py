"""Customer-list Custom Audiences for the Meta emulator: create and list an ad account's audiences, read
one audience's approximate size, add and remove hashed people in sessions of batches.

Served paths (routed by `meta.create_app`; auth, versions and permissions through `MetaEmulator._gate`):
    POST   /<v>/act_<id>/customaudiences   name, subtype=CUSTOM, customer_file_source, description -> {"id"}
    GET    /<v>/act_<id>/customaudiences   ?fields=id,name,...&limit=&after= (paged like the other edges)
    GET    /<v>/<audience_id>              ?fields=id,name,approximate_count_lower_bound,
                                           approximate_count_upper_bound,operation_status,time_updated
    POST   /<v>/<audience_id>/users        payload={"schema": [...], "data": [[...], ...]}, session={...}
    DELETE /<v>/<audience_id>/users        the same, removing people (form body or query string)

What Meta enforces and so does this emulator:
- Writing needs `ads_management` granted (error 200, HTTP 403); reading needs `ads_read` or it.
- Creating a customer list needs `customer_file_source` (one of `CUSTOMER_FILE_SOURCES`); names are not
  unique (a second create with the same name is a second audience), so callers reuse by name.
- `/users`: at most 10,000 rows per call; schema keys from Meta's multi-key list; one value per key in
  each row; values that are not SHA-256 hex digests (EXTERN_ID, MADID, APPUID excepted) make their row
  an invalid entry (counted and sampled), and a batch with no usable row at all is refused (error 100,
  "data is not hashed"). Sessions: `batch_seq` starts at 1 and goes up by one; the last batch again
  (a retry whose answer was lost) is accepted; any other number, or a batch after `last_batch_flag`,
  is error 100.
- An audience is a set of people: a row joins the Meta user its first known key belongs to, so adding
  someone twice, or by email once and by phone once, does not grow it.
- Custom Audience calls have a throttle of their own: error 80003 (HTTP 400, transient).

Meta's user base is derived from the world's `customers`: a customer is a Meta user when the number of
their hashed email (their phone when they have no email) is below 7 modulo 10 (about 70 %), and is
known by both their hashed email and hashed phone (`ingestion.activation.hashing`, so the connector and
the emulator normalize alike). Sizes are reported like Meta's approximate counts: the number of members
rounded down (lower bound) and up (upper bound) to two significant digits (exact below 100; 0 -> 0/0).

Sandbox control (merged into `/_emulator/control`): `throttle_audience_next: N` (the next N audience
calls answer 80003), `fail_user_batches_after: N|null` (after N more successful `/users` calls, every
further one answers HTTP 500 error 2 until set again), `reset_audiences: true` (forget every audience).
`GET /_emulator/audiences` returns each audience with its members (their canonical key hashes), the
upload log (how many times add calls received each hashed key), the removal log and its sessions.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingestion.activation.hashing import is_sha256_hex, match_row
from ingestion.sandbox.emulators.meta import GraphError, _select

if TYPE_CHECKING:
    from ingestion.sandbox.emulators.meta import MetaEmulator

MAX_USERS_PER_REQUEST = 10_000
# Meta's multi-key schema (facebook_business CustomAudience.Schema.MultiKeySchema)
SCHEMA_KEYS = frozenset({
    "EXTERN_ID", "EMAIL", "PHONE", "GEN", "DOBY", "DOBM", "DOBD", "LN", "FN", "FI", "CT", "ST", "ZIP",
    "MADID", "COUNTRY", "APPUID",
})  # fmt: skip
UNHASHED_KEYS = frozenset({"EXTERN_ID", "MADID", "APPUID"})  # Meta takes these as they are
CUSTOMER_FILE_SOURCES = ("USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED")
SUBTYPES = ("CUSTOM",)  # the customer-list subtype; lookalikes, website audiences... are not served here
AUDIENCE_FIELDS = {
    "id", "account_id", "name", "description", "subtype", "customer_file_source",
    "approximate_count_lower_bound", "approximate_count_upper_bound", "operation_status", "time_created",
    "time_updated",
}  # fmt: skip
FIRST_AUDIENCE_ID = 23850000000000001
MEMBER_SHARE = 7  # of 10 customers are Meta users
SAMPLES = 10  # invalid_entry_samples shown per batch
NO_MANAGE_PERMISSION = "(#200) Requires ads_management permission to manage the object"
THROTTLED = "(#80003) There have been too many calls to this ad-account. Wait a bit and try again."
THROTTLE_SUBCODE = 2446079
UNEXPECTED = "An unexpected error has occurred. Please retry your request later."


def approximate_bounds(size: int) -> tuple[int, int]:
    """(lower, upper): `size` rounded down and up to two significant digits, like Meta's approximate
    counts that never give the exact number of a large audience (exact below 100)."""
    if size < 100:
        return size, size
    step = 10 ** (len(str(size)) - 2)
    return size // step * step, -(-size // step) * step


def is_meta_user(anchor_hash: str) -> bool:
    """Whether a customer is on Meta: deterministic from the hash of their anchor key, ~70 % yes."""
    return int(anchor_hash, 16) % 10 < MEMBER_SHARE


def meta_users(customers: pd.DataFrame) -> dict[str, str]:
    """{hashed key: user id} of every customer who is a Meta user (email and phone hashes alike)."""
    by_key: dict[str, str] = {}
    for customer_id, email, phone in customers[["customer_id", "email", "phone"]].itertuples(index=False):
        keys = match_row(_text(email), _text(phone))
        anchor = keys[0] or keys[1]
        if anchor is None or not is_meta_user(anchor):
            continue
        for key in keys:
            if key is not None:
                by_key.setdefault(key, str(customer_id))
    return by_key


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


@dataclass
class UploadSession:
    last_seq: int
    ended: bool


@dataclass
class CustomAudience:
    id: str
    name: str
    description: str
    customer_file_source: str
    time_created: int
    time_updated: int
    members: set[str] = field(default_factory=set)  # Meta user ids
    upload_log: Counter[str] = field(default_factory=Counter)  # hashed key -> times received by adds
    removal_log: Counter[str] = field(default_factory=Counter)
    sessions: dict[int, UploadSession] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    """A validated `/users` request."""

    schema: list[str]
    data: list[list[str]]
    session_id: int | None
    batch_seq: int | None
    last_batch: bool


class AudienceEndpoints:
    """Custom Audience handlers over one `MetaEmulator` (its world, gate and control)."""

    def __init__(self, emulator: MetaEmulator) -> None:
        self.emulator = emulator
        self.lock = threading.Lock()
        self.audiences: dict[str, CustomAudience] = {}
        self.ids = itertools.count(FIRST_AUDIENCE_ID)
        self.throttle_next = 0
        self.fail_user_batches_after: int | None = None
        self.user_batches_ok = 0  # successful /users calls since fail_user_batches_after was set
        self._users: dict[str, str] | None = None

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def known_keys(self) -> dict[str, str]:
        """{hashed key: Meta user id}, derived from the world's customers on first use."""
        if self._users is None:
            self._users = meta_users(self.emulator.world.frame("customers"))
        return self._users

    async def _params(self, request: Request) -> dict[str, str]:
        """Query and body parameters; DELETE carries its payload in the body too (a URL cannot)."""
        params = await self.emulator._params(request)
        if request.method == "DELETE":
            raw = (await request.body()).decode()
            if "json" in request.headers.get("content-type", "") and raw:
                body = json.loads(raw)
                params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
            else:
                params.update(dict(parse_qsl(raw, keep_blank_values=True)))
        return params

    def _gate(self, request: Request, params: dict[str, str], version: str, write: bool) -> str:
        """The emulator's gate, then `ads_management` for writes, then the Custom Audience throttle."""
        served = self.emulator._gate(request, params, version)
        if write and "ads_management" not in self.emulator.control.permissions:
            raise GraphError(NO_MANAGE_PERMISSION, 200, status=403)
        with self.lock:
            if self.throttle_next > 0:
                self.throttle_next -= 1
                raise GraphError(
                    THROTTLED,
                    80003,
                    subcode=THROTTLE_SUBCODE,
                    headers=self.emulator._usage_headers(100, self.emulator.control.regain_minutes),
                    transient=True,
                )
        return served

    def _audience(self, node: str) -> CustomAudience:
        audience = self.audiences.get(node)
        if audience is None:
            raise GraphError(
                f"Unsupported request. Object with ID '{node}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                100,
                kind="GraphMethodException",
                subcode=33,
            )
        return audience

    def _object(self, audience: CustomAudience) -> dict[str, Any]:
        lower, upper = approximate_bounds(len(audience.members))
        return {
            "id": audience.id,
            "account_id": self.emulator.world.account_id,
            "name": audience.name,
            "description": audience.description,
            "subtype": "CUSTOM",
            "customer_file_source": audience.customer_file_source,
            "approximate_count_lower_bound": lower,
            "approximate_count_upper_bound": upper,
            "operation_status": {"code": 200, "description": "Normal"},
            "time_created": audience.time_created,
            "time_updated": audience.time_updated,
        }

    # -- routes ----------------------------------------------------------------------------------
    async def account_edge(self, request: Request) -> JSONResponse:
        """`act_<id>/customaudiences`: POST creates a customer list, GET lists the account's audiences."""
        version, node = request.path_params["version"], request.path_params["node"]
        params = await self._params(request)
        try:
            served = self._gate(request, params, version, write=request.method == "POST")
            self.emulator._account(node)
            if request.method == "POST":
                return self.emulator._respond({"id": self._create(params)}, served)
            fields = self.emulator._fields(params, AUDIENCE_FIELDS, "CustomAudience", "id")
            with self.lock:
                objects = [_select(self._object(a), fields) for a in self.audiences.values()]
            return self.emulator._respond(self.emulator._page(request, objects, params), served)
        except GraphError as error:
            return error.response

    def _create(self, params: dict[str, str]) -> str:
        name = params.get("name", "").strip()
        if not name:
            raise GraphError("(#100) The parameter name is required", 100)
        subtype = params.get("subtype", "CUSTOM")
        if subtype not in SUBTYPES:
            raise GraphError(
                f'(#100) Param subtype must be one of {{{", ".join(SUBTYPES)}}} - got "{subtype}" '
                "(the sandbox serves customer lists only)",
                100,
            )
        source = params.get("customer_file_source")
        if not source:
            raise GraphError(
                "(#100) The parameter customer_file_source is required for customer list custom audiences",
                100,
            )
        if source not in CUSTOMER_FILE_SOURCES:
            raise GraphError(
                f"(#100) Param customer_file_source must be one of {{{', '.join(CUSTOMER_FILE_SOURCES)}}} - "
                f'got "{source}"',
                100,
            )
        now = int(time.time())
        with self.lock:
            audience = CustomAudience(
                id=str(next(self.ids)),
                name=name,
                description=params.get("description", ""),
                customer_file_source=source,
                time_created=now,
                time_updated=now,
            )
            self.audiences[audience.id] = audience
        return audience.id

    async def node(self, request: Request) -> Response:
        """GET `/<v>/<node>`: an audience when the id is one, else the emulator's other nodes."""
        if request.path_params["node"] not in self.audiences:
            return await self.emulator.node(request)
        version, node = request.path_params["version"], request.path_params["node"]
        params = await self._params(request)
        try:
            served = self._gate(request, params, version, write=False)
            fields = self.emulator._fields(params, AUDIENCE_FIELDS, "CustomAudience", "id")
            with self.lock:
                body = _select(self._object(self._audience(node)), fields)
            return self.emulator._respond(body, served)
        except GraphError as error:
            return error.response

    async def users(self, request: Request) -> JSONResponse:
        """POST (add) or DELETE (remove) one batch of hashed people in an audience."""
        version, node = request.path_params["version"], request.path_params["node"]
        params = await self._params(request)
        try:
            served = self._gate(request, params, version, write=True)
            with self.lock:
                failing = self.fail_user_batches_after
                if failing is not None and self.user_batches_ok >= failing:
                    raise GraphError(UNEXPECTED, 2, kind="OAuthException", status=500, transient=True)
            audience = self._audience(node)
            batch = parse_batch(params)
            with self.lock:
                body = self._apply(audience, batch, add=request.method == "POST")
                self.user_batches_ok += 1
            return self.emulator._respond(body, served)
        except GraphError as error:
            return error.response

    def _apply(self, audience: CustomAudience, batch: Batch, add: bool) -> dict[str, Any]:
        """Session order, invalid entries, then the set update (under `self.lock`)."""
        session = audience.sessions.get(batch.session_id) if batch.session_id is not None else None
        if batch.session_id is not None:
            check_session(batch, session)
        samples: dict[str, str] = {}
        invalid = 0
        valid_rows: list[list[str]] = []
        for row in batch.data:
            reasons = {
                value: f"{key} is not a SHA-256 hex digest of a normalized value"
                for key, value in zip(batch.schema, row, strict=True)
                if value and key not in UNHASHED_KEYS and not is_sha256_hex(value)
            }
            if reasons or not any(row):
                invalid += 1
                for value, reason in (reasons or {"": "no value for any schema key"}).items():
                    if len(samples) < SAMPLES:
                        samples.setdefault(value, reason)
                continue
            valid_rows.append(row)
        if not valid_rows:
            raise GraphError(
                f"(#100) None of the {len(batch.data)} entries can be used: the data is not hashed (each "
                f"{'/'.join(k for k in batch.schema if k not in UNHASHED_KEYS)} value must be the SHA-256 hex "
                "digest of the normalized key) or has no value",
                100,
            )
        log = audience.upload_log if add else audience.removal_log
        known = self.known_keys
        for row in valid_rows:
            log.update(value for value in row if value)
            user = next((known[v] for v in row if v in known), None)
            if user is None:
                continue
            if add:
                audience.members.add(user)
            else:
                audience.members.discard(user)
        if batch.session_id is not None:
            audience.sessions[batch.session_id] = UploadSession(
                last_seq=batch.batch_seq or 1, ended=batch.last_batch or bool(session and session.ended)
            )
        audience.time_updated = int(time.time())
        return {
            "audience_id": audience.id,
            "session_id": batch.session_id if batch.session_id is not None else secrets.randbits(62),
            "num_received": len(batch.data),
            "num_invalid_entries": invalid,
            "invalid_entry_samples": samples,
        }

    async def records(self, request: Request) -> JSONResponse:
        """GET `/_emulator/audiences`: what tests check (members, upload and removal logs, sessions)."""
        with self.lock:
            anchor: dict[str, str] = {}
            for key, user in self.known_keys.items():
                anchor.setdefault(user, key)  # the email hash when there is one (it comes first)
            body = {
                audience.id: {
                    "name": audience.name,
                    "description": audience.description,
                    "size": len(audience.members),
                    "members": sorted(anchor[user] for user in audience.members),
                    "upload_log": dict(audience.upload_log),
                    "removal_log": dict(audience.removal_log),
                    "sessions": {
                        str(sid): {"last_batch_seq": s.last_seq, "ended": s.ended}
                        for sid, s in audience.sessions.items()
                    },
                }
                for audience in self.audiences.values()
            }
        return JSONResponse({"audiences": body})

    def configure(self, body: dict[str, Any]) -> None:
        """The Custom Audience knobs of a `POST /_emulator/control` body."""
        with self.lock:
            if "throttle_audience_next" in body:
                self.throttle_next = int(body["throttle_audience_next"] or 0)
            if "fail_user_batches_after" in body:
                value = body["fail_user_batches_after"]
                self.fail_user_batches_after = None if value is None else int(value)
                self.user_batches_ok = 0
            if body.get("reset_audiences"):
                self.audiences.clear()

    def control_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "throttle_audience_next": self.throttle_next,
                "fail_user_batches_after": self.fail_user_batches_after,
                "user_batches_ok": self.user_batches_ok,
                "audiences": len(self.audiences),
            }


def _json_param(params: dict[str, str], name: str) -> Any:
    try:
        return json.loads(params[name])
    except ValueError as exc:
        raise GraphError(f"(#100) param {name} must be a JSON-encoded object", 100) from exc


def parse_batch(params: dict[str, str]) -> Batch:
    """`payload` and `session` of a `/users` call, validated like Meta does (error 100)."""
    if "payload" not in params:
        raise GraphError("(#100) The parameter payload is required", 100)
    payload = _json_param(params, "payload")
    if not isinstance(payload, dict) or "schema" not in payload or "data" not in payload:
        raise GraphError('(#100) param payload must be an object with "schema" and "data"', 100)
    schema = payload["schema"]
    schema = [schema] if isinstance(schema, str) else schema
    if not isinstance(schema, list) or not schema or not all(isinstance(k, str) for k in schema):
        raise GraphError("(#100) payload.schema must be a schema key or a list of schema keys", 100)
    unknown = [k for k in schema if k not in SCHEMA_KEYS]
    if unknown:
        raise GraphError(
            f"(#100) Invalid schema key {unknown[0]!r}: use one of {', '.join(sorted(SCHEMA_KEYS))}", 100
        )
    if len(set(schema)) != len(schema):
        raise GraphError("(#100) payload.schema lists a key twice", 100)
    data = payload["data"]
    if not isinstance(data, list) or not data:
        raise GraphError("(#100) payload.data must be a non-empty list of entries", 100)
    if len(data) > MAX_USERS_PER_REQUEST:
        raise GraphError(
            f"(#100) Too many entries in one request: {len(data)}. A single request can add or remove "
            f"at most {MAX_USERS_PER_REQUEST} users; split the list into batches of one session",
            100,
        )
    rows: list[list[str]] = []
    for i, entry in enumerate(data):
        row = [entry] if len(schema) == 1 and isinstance(entry, str) else entry
        if not isinstance(row, list) or len(row) != len(schema):
            got = len(row) if isinstance(row, list) else type(row).__name__
            raise GraphError(
                f"(#100) Entry {i} of payload.data has {got} values, but the schema has {len(schema)} "
                f"keys ({', '.join(schema)}): send one value per key, an empty string for a missing one",
                100,
            )
        if not all(isinstance(v, str) for v in row):
            raise GraphError(f"(#100) Entry {i} of payload.data must contain strings only", 100)
        rows.append(row)
    session_id, batch_seq, last_batch = parse_session(params)
    return Batch(schema, rows, session_id, batch_seq, last_batch)


def parse_session(params: dict[str, str]) -> tuple[int | None, int | None, bool]:
    """(session_id, batch_seq, last_batch_flag) of the optional `session` parameter."""
    if "session" not in params:
        return None, None, False
    session = _json_param(params, "session")
    if not isinstance(session, dict):
        raise GraphError("(#100) param session must be a JSON-encoded object", 100)
    session_id, batch_seq = session.get("session_id"), session.get("batch_seq")
    for name, value in (("session_id", session_id), ("batch_seq", batch_seq)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise GraphError(f"(#100) session.{name} must be a positive integer, got {value!r}", 100)
    last = session.get("last_batch_flag", False)
    if not isinstance(last, bool):
        raise GraphError(f"(#100) session.last_batch_flag must be a boolean, got {last!r}", 100)
    total = session.get("estimated_num_total")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        raise GraphError(f"(#100) session.estimated_num_total must be an integer, got {total!r}", 100)
    return session_id, batch_seq, last


def check_session(batch: Batch, session: UploadSession | None) -> None:
    """Batches of a session come in order from 1; the last one again is a retry; none after the last."""
    seq = batch.batch_seq
    if session is None:
        if seq != 1:
            raise GraphError(
                f"(#100) batch_seq {seq} is out of order for session {batch.session_id}: a new session "
                "starts at batch_seq 1",
                100,
            )
        return
    if seq == session.last_seq:
        return  # the same batch again: a retry after a lost answer
    if session.ended:
        raise GraphError(
            f"(#100) Session {batch.session_id} already ended: its batch {session.last_seq} had "
            "last_batch_flag=true. Start a new session_id for another upload",
            100,
        )
    if seq != session.last_seq + 1:
        raise GraphError(
            f"(#100) batch_seq {seq} is out of order for session {batch.session_id}: expected "
            f"{session.last_seq + 1} after {session.last_seq}",
            100,
        )
