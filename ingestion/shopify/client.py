"""GraphQL Admin API calls for the Shopify connector: cursor paging sorted by `UPDATED_AT`, nested
connections completed by follow-up queries, and Shopify's cost-based throttling.

Throttling: every response reports `extensions.cost.throttleStatus`. After each page the client sleeps
until the bucket holds enough points for another query of the same cost, so it rarely hits the limit;
a `THROTTLED` error (HTTP 200) is retried by the shared `ApiClient` after the time the bucket needs to
restore the requested points. A query costing over Shopify's single-query limit (`MAX_COST_EXCEEDED`)
is retried with a smaller page.

Auth: a Dev Dashboard app's client id + secret (`ClientCredentialsAuth`: a token minted by the
client-credentials grant, re-minted before it expires or after a 401) or a legacy custom app's permanent
token. API version: the path asks for one; Shopify serves its oldest supported version instead when the
asked one is no longer supported and says so in `X-Shopify-API-Version`, which the client reads after
every response and reports once per client as an `api_version_mismatch` notice (log + asset metadata).

Every query document the connector (and its check) sends is built by the functions here, so the contract
test (tests/contracts/test_shopify_contract.py) validates exactly them against Shopify's published schema.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from ingestion.common.http import ApiClient, SourceAPIError
from ingestion.common.notices import notice
from ingestion.shopify.auth import ClientCredentialsAuth
from ingestion.shopify.settings import DEFAULT_API_VERSION

log = logging.getLogger(__name__)

SOURCE = "shopify"
MONEY = "shopMoney { amount currencyCode }"
VISIT = (
    "source sourceType landingPage referrerUrl occurredAt "
    "utmParameters { source medium campaign content term }"
)
LINE_ITEM = (
    f"id sku title quantity originalUnitPriceSet {{ {MONEY} }} totalDiscountSet {{ {MONEY} }} "
    "product { id } variant { id }"
)
REFUND_LINE_ITEM = f"id quantity lineItem {{ id }} subtotalSet {{ {MONEY} }}"
VARIANT = "id sku title price inventoryItem { unitCost { amount currencyCode } }"


def order_fields(nested: int) -> str:
    return (
        "id name createdAt updatedAt processedAt cancelledAt test displayFinancialStatus email phone "
        f"currencyCode subtotalPriceSet {{ {MONEY} }} totalDiscountsSet {{ {MONEY} }} "
        f"totalShippingPriceSet {{ {MONEY} }} totalTaxSet {{ {MONEY} }} "
        f"totalPriceSet {{ {MONEY} }} totalRefundedSet {{ {MONEY} }} customer {{ id }} discountCodes "
        "customAttributes { key value } "
        f"customerJourneySummary {{ firstVisit {{ {VISIT} }} lastVisit {{ {VISIT} }} }} "
        f"lineItems(first: {nested}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {LINE_ITEM} }} }} "
        f"refunds {{ id createdAt note totalRefundedSet {{ {MONEY} }} "
        f"refundLineItems(first: {nested}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {REFUND_LINE_ITEM} }} }} }}"
    )


# `email`, `phone` and `emailMarketingConsent` are deprecated on Customer (in every version Shopify still
# serves) in favour of the default email address / phone number objects
CUSTOMER_FIELDS = (
    "id defaultEmailAddress { emailAddress marketingState } defaultPhoneNumber { phoneNumber } "
    "firstName lastName state createdAt updatedAt numberOfOrders amountSpent { amount currencyCode } "
    "defaultAddress { city countryCodeV2 provinceCode }"
)
VERSION_HEADER = "X-Shopify-API-Version"


def product_fields(nested: int) -> str:
    return (
        "id title handle productType vendor status tags createdAt updatedAt "
        f"variants(first: {nested}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {VARIANT} }} }}"
    )


def page_query(root: str, selection: str) -> str:
    """One page of a top-level connection, sorted by UPDATED_AT, filtered by a search `query`."""
    return (
        f"query {root.capitalize()}Page($first: Int!, $after: String, $query: String) {{ "
        f"{root}(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{ "
        f"pageInfo {{ hasNextPage endCursor }} nodes {{ {selection} }} }} }}"
    )


def rest_query(root: str, field: str, selection: str) -> str:
    """The rest of a nested connection of one node (`order(id:) { lineItems(after:) }`...)."""
    return (
        f"query Rest($id: ID!, $after: String) {{ {root}(id: $id) {{ {field}(first: 100, after: $after) "
        f"{{ pageInfo {{ hasNextPage endCursor }} nodes {{ {selection} }} }} }} }}"
    )


# what `journey sources check shopify` asks besides one page of each feed
SHOP_QUERY = "query CheckShop { shop { name } }"
SCOPES_QUERY = "query CheckScopes { currentAppInstallation { accessScopes { handle } } }"
# (root, nested connection, node selection) completed by `rest_query`
NESTED = (("order", "lineItems", LINE_ITEM), ("refund", "refundLineItems", REFUND_LINE_ITEM),
          ("product", "variants", VARIANT))  # fmt: skip


def query_documents(nested: int = 5) -> dict[str, str]:
    """Every query document the connector and its check send, by name (for the contract test)."""
    return {
        "orders page": page_query("orders", order_fields(nested)),
        "customers page": page_query("customers", CUSTOMER_FIELDS),
        "products page": page_query("products", product_fields(nested)),
        **{f"{root}.{field} rest": rest_query(root, field, sel) for root, field, sel in NESTED},
        "check shop": SHOP_QUERY,
        "check scopes": SCOPES_QUERY,
    }


def version_mismatch(requested: str, served: str) -> str:
    """What a person reads when Shopify served another API version than the one asked for."""
    return (
        f"asked for Admin API version {requested}, Shopify served {served} "
        f"({VERSION_HEADER}): {requested} is not a supported version (any more), so responses follow "
        f"{served}; set SHOPIFY_API_VERSION to a supported version (unset: {DEFAULT_API_VERSION})"
    )


class ShopifyQueryError(SourceAPIError):
    """GraphQL errors in an HTTP 200 response (not retried: the query itself is wrong)."""

    def __init__(self, endpoint: str, errors: Any) -> None:
        super().__init__(SOURCE, "POST", endpoint, 1, 200, f"GraphQL errors: {json.dumps(errors)}")
        self.errors = errors if isinstance(errors, list) else [{"message": str(errors)}]

    def code(self) -> str | None:
        return next(
            ((e.get("extensions") or {}).get("code") for e in self.errors if isinstance(e, dict)), None
        )


def _cost(payload: Any) -> dict[str, Any]:
    return ((payload.get("extensions") or {}).get("cost") or {}) if isinstance(payload, dict) else {}


def _restore_seconds(cost: dict[str, Any], needed: float) -> float:
    status = cost.get("throttleStatus") or {}
    available = float(status.get("currentlyAvailable") or 0)
    rate = float(status.get("restoreRate") or 50.0)
    return max(0.0, (needed - available) / rate)


def shopify_throttled(response: requests.Response, payload: Any) -> float | None:
    """`ApiClient.throttled` hook: seconds to wait when Shopify answered `THROTTLED`, else None."""
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list):
        return None
    if any(isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
        cost = _cost(payload)
        return max(_restore_seconds(cost, float(cost.get("requestedQueryCost") or 0)), 0.05)
    return None


class ShopifyGraphQLClient:
    """Thin GraphQL Admin API client for one shop and API version."""

    def __init__(
        self,
        *,
        api_url: str,
        api_version: str,
        access_token: str = "",
        client_id: str = "",
        client_secret: str = "",
        page_size: int = 250,
        nested_page_size: int = 5,
        max_attempts: int = 6,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.page_size = page_size
        self.nested = nested_page_size
        self.sleep = sleep
        self.max_wait = max_wait
        self.api_version = api_version
        self.served_version: str | None = None  # X-Shopify-API-Version of the last response
        self.path = f"admin/api/{api_version}/graphql.json"
        retry = {"max_attempts": max_attempts, "backoff": backoff, "max_wait": max_wait, "timeout": timeout,
                 "sleep": sleep}  # fmt: skip
        # a Dev Dashboard app mints expiring tokens; a legacy custom app has one permanent token (a 401
        # then means revoked or wrong: nothing to refresh). Either travels in Shopify's header only,
        # never in URLs that could end up in logs.
        self.auth = (
            ClientCredentialsAuth(api_url=api_url, client_id=client_id, client_secret=client_secret, **retry)
            if client_id and client_secret
            else None
        )
        headers = {"Content-Type": "application/json"}
        if self.auth is None:
            headers["X-Shopify-Access-Token"] = access_token
        self.http = ApiClient(
            source=SOURCE,
            base_url=api_url,
            headers=headers,
            throttled=shopify_throttled,
            auth=self.auth,
            **retry,
        )

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GraphQL request; returns `data`, raises `ShopifyQueryError` on GraphQL errors."""
        payload = self.http.request_json(
            "POST", self.path, json={"query": query, "variables": variables or {}}
        )
        self._note_version()
        if not isinstance(payload, dict):
            raise ShopifyQueryError(self.http.url(self.path), f"unexpected body {str(payload)[:200]}")
        if payload.get("errors"):
            raise ShopifyQueryError(self.http.url(self.path), payload["errors"])
        self._pace(_cost(payload))
        return payload["data"]

    def _note_version(self) -> None:
        """Read the served version; the first time it differs from the asked one, raise a notice."""
        response = self.http.last_response
        served = response.headers.get(VERSION_HEADER) if response is not None else None
        if served and served != self.api_version and self.served_version != served:
            notice(SOURCE, "api_version_mismatch", version_mismatch(self.api_version, served),
                   requested=self.api_version, served=served)  # fmt: skip
        self.served_version = served or self.served_version

    def _pace(self, cost: dict[str, Any]) -> None:
        """Sleep until the bucket could pay for another query like this one (leaky-bucket pacing)."""
        needed = float(cost.get("requestedQueryCost") or 0)
        wait = _restore_seconds(cost, needed)
        if wait > 0:
            log.info("shopify: throttle bucket low (%s); waiting %.2fs", cost.get("throttleStatus"), wait)
            self.sleep(min(wait, self.max_wait))

    def pages(self, root: str, selection: str, search: str | None) -> Iterator[list[dict[str, Any]]]:
        """All nodes of a top-level connection sorted by UPDATED_AT, page by page."""
        query = page_query(root, selection)
        first, after = self.page_size, None
        while True:
            try:
                data = self.execute(query, {"first": first, "after": after, "query": search})
            except ShopifyQueryError as exc:
                if exc.code() != "MAX_COST_EXCEEDED" or first == 1:
                    raise
                ext = next((e.get("extensions") or {} for e in exc.errors if isinstance(e, dict)), {})
                cost, limit = float(ext.get("cost") or 0), float(ext.get("maxCost") or 1000)
                first = max(1, min(first - 1, int(first * limit / cost) if cost else first // 2))
                log.info("shopify: %s page too expensive (%s > %s); %d per page", root, cost, limit, first)
                continue
            connection = data[root]
            yield connection["nodes"]
            if not connection["pageInfo"]["hasNextPage"]:
                return
            after = connection["pageInfo"]["endCursor"]

    def rest_of(
        self, root: str, node_id: str, field: str, selection: str, after: str
    ) -> list[dict[str, Any]]:
        """The remaining nodes of a nested connection (`order.lineItems` past the inline page…)."""
        query = rest_query(root, field, selection)
        out: list[dict[str, Any]] = []
        while after:
            connection = self.execute(query, {"id": node_id, "after": after})[root][field]
            out.extend(connection["nodes"])
            after = connection["pageInfo"]["endCursor"] if connection["pageInfo"]["hasNextPage"] else None
        return out

    def complete(self, root: str, node: dict[str, Any], field: str, selection: str) -> list[dict[str, Any]]:
        """Every node of `node[field]`, following up when the inline page was not the last one."""
        connection = node.get(field) or {"nodes": [], "pageInfo": {"hasNextPage": False}}
        nodes = list(connection["nodes"])
        if connection["pageInfo"].get("hasNextPage"):
            nodes += self.rest_of(root, node["id"], field, selection, connection["pageInfo"]["endCursor"])
        return nodes

    def orders(self, search: str | None) -> Iterator[list[dict[str, Any]]]:
        """Orders with every line item and refund line item filled in."""
        for page in self.pages("orders", order_fields(self.nested), search):
            for order in page:
                order["lineItems"] = {"nodes": self.complete("order", order, "lineItems", LINE_ITEM),
                                      "pageInfo": {"hasNextPage": False}}  # fmt: skip
                for refund in order.get("refunds") or []:
                    refund["refundLineItems"] = {
                        "nodes": self.complete("refund", refund, "refundLineItems", REFUND_LINE_ITEM),
                        "pageInfo": {"hasNextPage": False},
                    }
            yield page

    def customers(self, search: str | None) -> Iterator[list[dict[str, Any]]]:
        yield from self.pages("customers", CUSTOMER_FIELDS, search)

    def products(self, search: str | None) -> Iterator[list[dict[str, Any]]]:
        for page in self.pages("products", product_fields(self.nested), search):
            for product in page:
                product["variants"] = {"nodes": self.complete("product", product, "variants", VARIANT),
                                       "pageInfo": {"hasNextPage": False}}  # fmt: skip
            yield page
