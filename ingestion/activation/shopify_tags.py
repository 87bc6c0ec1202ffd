"""Shopify customer tags (`tagsAdd` / `tagsRemove`): the vendor layer of the `shopify_tags` destination.

Why tags: a segment synced as a customer tag (e.g. `journey:win-back`) is what Shopify Flow, Shopify
Email and the admin's customer search filter on. The delta sync (which customers gain or lose which
tag) is built on top of this module; here is one mutation per customer and call, nothing else.

On top of the Shopify source's `ShopifyGraphQLClient`, so auth (client-credentials grant or a legacy
token), API version, retries (5xx, dropped connections) and Shopify's cost-based throttling (pacing by
`extensions.cost`, `THROTTLED` retried) are the connector's. Both mutations are idempotent at Shopify
(adding a tag the customer has, or removing one it has not, changes nothing), so a retried request
cannot double-write.

Two kinds of failure, kept apart on purpose:
- a `userErrors` entry is about one customer (unknown id, a tag over 255 characters, over 250 tags):
  `TagResult(ok=False, errors=("field: message", …))`, and the sync goes on with the next customer;
- anything else (the app lacks `write_customers`, auth refused, throttled or 5xx past the retries, a
  GraphQL error) would fail every customer alike: `ShopifyTagError`, naming the mutation and customer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ingestion.common.http import SourceAPIError
from ingestion.shopify.client import ShopifyGraphQLClient, ShopifyQueryError
from ingestion.shopify.settings import ShopifySettings

TAGS_ADD = (
    "mutation TagsAdd($id: ID!, $tags: [String!]!) "
    "{ tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } } }"
)
TAGS_REMOVE = (
    "mutation TagsRemove($id: ID!, $tags: [String!]!) "
    "{ tagsRemove(id: $id, tags: $tags) { node { id } userErrors { field message } } }"
)
CUSTOMER_TAGS = "query CustomerTags($id: ID!) { customer(id: $id) { tags } }"
WRITE_SCOPE = "write_customers"
CUSTOMER_GID = re.compile(r"^gid://shopify/Customer/(?P<id>[1-9][0-9]*)$")
DIGITS = re.compile(r"^[1-9][0-9]*$")


def tag_documents() -> dict[str, str]:
    """Every GraphQL document this module sends, by name (for the contract test)."""
    return {"tags add": TAGS_ADD, "tags remove": TAGS_REMOVE, "customer tags": CUSTOMER_TAGS}


@dataclass(frozen=True)
class TagResult:
    """One customer's outcome: `ok`, or the mutation's userErrors as "field: message" strings."""

    customer_gid: str
    ok: bool
    errors: tuple[str, ...] = ()


class ShopifyTagError(SourceAPIError):
    """A tag mutation failed for a reason that is not the customer's (scope, auth, throttling or
    server errors past the retries, a GraphQL error): the message names the mutation, the customer
    and what to do; the underlying `SourceAPIError` is the `__cause__`."""

    def __init__(self, mutation: str, customer_gid: str, reason: str, cause: SourceAPIError) -> None:
        super().__init__(cause.source, "POST", cause.endpoint, cause.attempts, cause.status, cause.detail)
        self.mutation, self.customer_gid, self.reason = mutation, customer_gid, reason
        self.args = (f"shopify: {mutation} of {customer_gid} failed: {reason}",)


def customer_gid(customer_id: int | str) -> str:
    """`123`, `"123"` or `"gid://shopify/Customer/123"` -> `"gid://shopify/Customer/123"`.

    Raises ValueError for anything else (another resource's gid, a non-positive or non-numeric id), so
    a wrong id never reaches Shopify as a tag write on some other object."""
    if isinstance(customer_id, bool):
        raise ValueError(f"not a Shopify customer id: {customer_id!r}")
    if isinstance(customer_id, int):
        if customer_id > 0:
            return f"gid://shopify/Customer/{customer_id}"
    elif isinstance(customer_id, str):
        text = customer_id.strip()
        if DIGITS.match(text):
            return f"gid://shopify/Customer/{text}"
        if CUSTOMER_GID.match(text):
            return text
    raise ValueError(
        f"not a Shopify customer id: {customer_id!r} (expected 123 or gid://shopify/Customer/123)"
    )


def _user_error(error: Mapping[str, Any]) -> str:
    path = ".".join(str(p) for p in error.get("field") or ())
    message = str(error.get("message") or "")
    return f"{path}: {message}" if path else message


def _required_scope(error: ShopifyQueryError) -> str:
    """The scope named by Shopify's ACCESS_DENIED (`requiredAccess`), `write_customers` if unnamed."""
    for entry in error.errors:
        extensions = (entry.get("extensions") or {}) if isinstance(entry, dict) else {}
        required = str(extensions.get("requiredAccess") or "")
        if extensions.get("code") == "ACCESS_DENIED" and (match := re.search(r"`(\w+)`", required)):
            return match.group(1)
    return WRITE_SCOPE


def _reason(error: SourceAPIError) -> str:
    """What a person reads: the scope to grant for ACCESS_DENIED, else the API's own failure."""
    if isinstance(error, ShopifyQueryError) and error.code() == "ACCESS_DENIED":
        scope = _required_scope(error)
        return (
            f"the app lacks the `{scope}` access scope (ACCESS_DENIED); add {scope} to the app's access "
            "scopes (Dev Dashboard: Versions -> Access scopes), release the version and have the shop "
            "approve it"
        )
    return str(error)


class ShopifyTagClient:
    """Adds and removes one customer's tags; reads them back for checks and tests."""

    def __init__(self, client: ShopifyGraphQLClient) -> None:
        self.client = client

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ShopifyTagClient:
        """The Shopify source's settings (SHOPIFY_API_URL, client id + secret or access token, version,
        retry knobs), so activation writes to the shop the connector reads."""
        settings = ShopifySettings.from_env(os.environ if env is None else env)
        kwargs = settings.source_kwargs()
        names = ("api_url", "api_version", "access_token", "client_id", "client_secret",
                 "max_attempts", "backoff", "max_wait", "timeout")  # fmt: skip
        return cls(ShopifyGraphQLClient(**{name: kwargs[name] for name in names}))

    def add(self, customer_id: int | str, tags: Sequence[str]) -> TagResult:
        """Add `tags` to the customer (tags it has already are left as they are)."""
        return self._mutate("tagsAdd", TAGS_ADD, customer_id, tags)

    def remove(self, customer_id: int | str, tags: Sequence[str]) -> TagResult:
        """Remove `tags` from the customer (tags it has not are ignored)."""
        return self._mutate("tagsRemove", TAGS_REMOVE, customer_id, tags)

    def tags_of(self, customer_id: int | str) -> list[str]:
        """The customer's tags as Shopify lists them; LookupError when the shop has no such customer."""
        gid = customer_gid(customer_id)
        try:
            data = self.client.execute(CUSTOMER_TAGS, {"id": gid})
        except SourceAPIError as exc:
            raise ShopifyTagError("customer tags query", gid, _reason(exc), exc) from exc
        customer = (data or {}).get("customer")
        if customer is None:
            raise LookupError(f"shopify: no customer {gid} in the shop")
        return list(customer["tags"])

    def _mutate(self, name: str, document: str, customer_id: int | str, tags: Sequence[str]) -> TagResult:
        gid = customer_gid(customer_id)
        if isinstance(tags, str):  # a str is a Sequence[str] of characters: never what was meant
            raise TypeError(f"{name}: tags must be a sequence of tags, not the string {tags!r}")
        values = [str(t) for t in tags]
        if not values:  # nothing to change: no request, no cost
            return TagResult(gid, True)
        try:
            data = self.client.execute(document, {"id": gid, "tags": values})
        except SourceAPIError as exc:
            raise ShopifyTagError(name, gid, _reason(exc), exc) from exc
        payload = (data or {}).get(name) or {}
        errors = tuple(_user_error(e) for e in payload.get("userErrors") or ())
        return TagResult(gid, not errors, errors)
