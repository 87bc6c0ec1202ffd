"""Meta Custom Audiences (customer lists): find or create an audience, add and remove hashed people in
sessions of batches, and read its approximate size. The vendor layer of the Meta activation; the delta
sync (which people to add or remove) is built on top of it.

Why sessions: Meta accepts at most 10,000 people per `/users` call, so a segment is sent as one session
(`session_id` chosen by the caller, `batch_seq` from 1, `last_batch_flag` on the last batch) and Meta
treats the batches as one upload. Why hashed rows only: Meta matches SHA-256 hashes of normalized keys
(`ingestion.activation.hashing`); a plain email sent by mistake would leave our systems unhashed and
only come back as an invalid entry, so `add_users`/`remove_users` refuse it before anything is sent.

Calls go through `MetaGraphClient`'s retrying `ApiClient`, which waits out Meta's throttling (including
the Custom Audience code 80003) and 5xx; when its budget is spent, or Meta refuses the call, the error
is an `AudienceSyncError` that names the audience, the call and Meta's error code and message.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ingestion.activation.hashing import is_sha256_hex
from ingestion.common.http import SourceAPIError
from ingestion.meta_ads.client import SOURCE, MetaGraphClient
from ingestion.meta_ads.settings import MetaAdsSettings

MAX_USERS_PER_REQUEST = 10_000  # Meta's limit per /users call
BATCH_SIZE_ENV = "META_AUDIENCE_BATCH_SIZE"  # smaller batches, e.g. for a slow link
SCHEMA = ("EMAIL", "PHONE")
AUDIENCE_FIELDS = "id,name"
SIZE_FIELDS = "approximate_count_lower_bound,approximate_count_upper_bound,operation_status"
# what each Meta error code means for whoever reads the failure
HINTS = {
    200: "the access token needs the ads_management permission to write Custom Audiences",
    190: "the access token is invalid or expired (META_ACCESS_TOKEN)",
    80003: "Meta kept throttling Custom Audience calls to this ad account; retry later",
}

Row = tuple[str | None, str | None]  # (hashed EMAIL, hashed PHONE)


@dataclass(frozen=True)
class Audience:
    id: str
    name: str
    created: bool  # True when this call created it, False when an audience of that name was reused


@dataclass(frozen=True)
class BatchResult:
    """Meta's answer to one `/users` batch."""

    audience_id: str
    session_id: int
    num_received: int
    num_invalid_entries: int
    invalid_entry_samples: dict


@dataclass(frozen=True)
class AudienceSize:
    """Meta's approximate size: `approximate_count_lower_bound`/`_upper_bound`, `operation_status.description`."""

    lower_bound: int
    upper_bound: int
    operation_status: str | None


class AudienceSyncError(SourceAPIError):
    """A Custom Audience call failed: which audience, which call, and Meta's error code and message."""

    def __init__(
        self,
        call: str,
        audience: str,
        method: str,
        endpoint: str,
        attempts: int,
        status: int | None,
        meta_detail: str,
    ) -> None:
        self.call, self.audience = call, audience
        self.meta_code, self.meta_message = _meta_error(meta_detail)
        what = f"{call} for audience {audience!r}"
        if self.meta_code is not None:
            what += f": Meta error {self.meta_code}: {self.meta_message}"
            hint = HINTS.get(self.meta_code)
            if hint:
                what += f" ({hint})"
        else:
            what += f": {meta_detail}"
        super().__init__(SOURCE, method, endpoint, attempts, status, what)


def _meta_error(detail: str) -> tuple[int | None, str | None]:
    """(code, message) of a Graph API error body, (None, None) when the detail is no such body."""
    try:
        body = json.loads(detail)
    except ValueError:
        return None, None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None
    code = error.get("code")
    return (code if isinstance(code, int) else None), str(error.get("message"))


def new_session_id() -> int:
    """A random positive 63-bit integer (Meta: `session_id` is an integer the caller chooses)."""
    return secrets.randbelow(2**63 - 1) + 1


class MetaAudienceClient:
    """Customer-list Custom Audiences of the ad account `graph` is bound to."""

    def __init__(self, graph: MetaGraphClient, batch_size: int = MAX_USERS_PER_REQUEST) -> None:
        if not 1 <= batch_size <= MAX_USERS_PER_REQUEST:
            raise ValueError(
                f"batch_size must be 1..{MAX_USERS_PER_REQUEST} (Meta's limit), got {batch_size}"
            )
        self.graph = graph
        self.batch_size = batch_size

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, batch_size: int | None = None
    ) -> MetaAudienceClient:
        """From the Meta source's variables (META_ACCESS_TOKEN, META_AD_ACCOUNT_ID, META_API_URL, ...);
        the batch size from `batch_size`, else META_AUDIENCE_BATCH_SIZE, else Meta's limit."""
        env = dict(os.environ if env is None else env)
        settings = MetaAdsSettings.from_env(env)
        if batch_size is None:
            batch_size = int(env.get(BATCH_SIZE_ENV) or MAX_USERS_PER_REQUEST)
        graph = MetaGraphClient(
            api_url=settings.api_url,
            api_version=settings.api_version,
            access_token=settings.access_token,
            ad_account_id=settings.ad_account_id,
            page_size=settings.page_size,
            max_attempts=settings.max_attempts,
            backoff=settings.backoff,
            max_wait=settings.max_wait,
            timeout=settings.timeout,
        )
        return cls(graph, batch_size)

    # -- calls -------------------------------------------------------------------------------------
    def _call(self, call: str, audience: str, method: str, *parts: str, **kwargs: Any) -> Any:
        """One Graph API call under the configured version; failures become `AudienceSyncError`."""
        path = "/".join((self.graph.version, *parts))
        try:
            return self.graph.http.request_json(method, path, **kwargs)
        except SourceAPIError as error:
            raise AudienceSyncError(
                call, audience, method, error.endpoint, error.attempts, error.status, error.detail
            ) from error

    def _unexpected(self, call: str, audience: str, method: str, path: str, body: Any) -> AudienceSyncError:
        return AudienceSyncError(
            call, audience, method, self.graph.http.url(path), 1, 200,
            f"unexpected response: {json.dumps(body)[:300]}",
        )  # fmt: skip

    def find_audience(self, name: str) -> Audience | None:
        """The account's Custom Audience with exactly this name (the first one Meta lists), else None."""
        path = f"{self.graph.version}/{self.graph.account}/customaudiences"
        params = {"fields": AUDIENCE_FIELDS, "limit": self.graph.page_size}
        try:
            for page in self.graph.pages(path, params):
                for item in page:
                    if item.get("name") == name:
                        return Audience(id=str(item["id"]), name=name, created=False)
        except SourceAPIError as error:
            raise AudienceSyncError(
                "find_audience", name, "GET", error.endpoint, error.attempts, error.status, error.detail
            ) from error
        return None

    def ensure_audience(self, name: str, description: str) -> Audience:
        """The audience called `name`, created as a customer list (user-provided data) when there is none.

        Reused by exact name, so a re-run of a sync never creates a second audience for one segment."""
        found = self.find_audience(name)
        if found is not None:
            return found
        params = {
            "name": name,
            "description": description,
            "subtype": "CUSTOM",
            "customer_file_source": "USER_PROVIDED_ONLY",
        }
        body = self._call(
            "ensure_audience (create)", name, "POST", self.graph.account, "customaudiences", data=params
        )
        if not isinstance(body, dict) or not body.get("id"):
            path = f"{self.graph.version}/{self.graph.account}/customaudiences"
            raise self._unexpected("ensure_audience (create)", name, "POST", path, body)
        return Audience(id=str(body["id"]), name=name, created=True)

    def add_users(
        self,
        audience_id: str,
        rows: Sequence[Row],
        session_id: int,
        batch_seq: int,
        last_batch: bool,
        estimated_total: int,
    ) -> BatchResult:
        """Add one batch of hashed (EMAIL, PHONE) rows to the audience, as batch `batch_seq` of a session."""
        return self._users(
            "add_users", "POST", audience_id, rows, session_id, batch_seq, last_batch, estimated_total
        )

    def remove_users(
        self,
        audience_id: str,
        rows: Sequence[Row],
        session_id: int,
        batch_seq: int,
        last_batch: bool,
        estimated_total: int,
    ) -> BatchResult:
        """Remove one batch of hashed (EMAIL, PHONE) rows from the audience (same session rules as adding)."""
        return self._users(
            "remove_users", "DELETE", audience_id, rows, session_id, batch_seq, last_batch, estimated_total
        )

    def _users(
        self,
        call: str,
        method: str,
        audience_id: str,
        rows: Sequence[Row],
        session_id: int,
        batch_seq: int,
        last_batch: bool,
        estimated_total: int,
    ) -> BatchResult:
        data = self.payload_rows(rows)
        session = {
            "session_id": int(session_id),
            "batch_seq": int(batch_seq),
            "last_batch_flag": bool(last_batch),
            "estimated_num_total": int(estimated_total),
        }
        # form fields in the body (DELETE too): 10,000 rows of hashes do not fit in a URL
        form = {"payload": json.dumps({"schema": list(SCHEMA), "data": data}), "session": json.dumps(session)}
        label = f"{call} (session {session_id}, batch {batch_seq})"
        body = self._call(label, audience_id, method, audience_id, "users", data=form)
        try:
            return BatchResult(
                audience_id=str(body["audience_id"]),
                session_id=int(body["session_id"]),
                num_received=int(body["num_received"]),
                num_invalid_entries=int(body.get("num_invalid_entries") or 0),
                invalid_entry_samples=dict(body.get("invalid_entry_samples") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            path = f"{self.graph.version}/{audience_id}/users"
            raise self._unexpected(label, audience_id, method, path, body) from exc

    def payload_rows(self, rows: Sequence[Row]) -> list[list[str]]:
        """`payload.data` of a batch: one [EMAIL, PHONE] list per row, "" for a missing key.

        Raises ValueError, before anything is sent, for a batch over `batch_size`, an empty batch, a row
        that is not one value per `SCHEMA` key, a row without any key, or a value that is not a SHA-256
        hex digest (a plain email or phone must never leave unhashed)."""
        if not rows:
            raise ValueError("no rows to send: Meta rejects an empty batch")
        if len(rows) > self.batch_size:
            raise ValueError(
                f"{len(rows)} rows in one batch; at most {self.batch_size} (batch_size) per call"
            )
        data = []
        for i, row in enumerate(rows):
            if len(row) != len(SCHEMA):
                raise ValueError(f"row {i} has {len(row)} values; expected one per key of {SCHEMA}")
            if all(value is None for value in row):
                raise ValueError(f"row {i} has neither EMAIL nor PHONE: nothing Meta could match")
            for key, value in zip(SCHEMA, row, strict=True):
                if value is not None and not is_sha256_hex(value):
                    raise ValueError(
                        f"row {i}: {key} is not a SHA-256 hex digest; normalize and hash it first "
                        "(ingestion.activation.hashing.match_row)"
                    )
            data.append(["" if value is None else value for value in row])
        return data

    def size(self, audience_id: str) -> AudienceSize:
        """Meta's approximate bounds of how many people the audience matched, and its operation status."""
        body = self._call("size", audience_id, "GET", audience_id, params={"fields": SIZE_FIELDS})
        try:
            status = body.get("operation_status") or {}
            return AudienceSize(
                lower_bound=int(body["approximate_count_lower_bound"]),
                upper_bound=int(body["approximate_count_upper_bound"]),
                operation_status=status.get("description") if isinstance(status, dict) else None,
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise self._unexpected(
                "size", audience_id, "GET", f"{self.graph.version}/{audience_id}", body
            ) from exc
