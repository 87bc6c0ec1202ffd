"""GraphQL Admin API calls for the Shopify connector: cursor paging sorted by `UPDATED_AT`, nested
connections completed by follow-up queries, and Shopify's cost-based throttling.

Throttling: every response reports `extensions.cost.throttleStatus`. After each page the client sleeps
until the bucket holds enough points for another query of the same cost, so it rarely hits the limit;
a `THROTTLED` error (HTTP 200) is retried by the shared `ApiClient` after the time the bucket needs to
restore the requested points. A query costing over Shopify's single-query limit (`MAX_COST_EXCEEDED`)
is retried with a smaller page.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from ingestion.common.http import ApiClient, SourceAPIError

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
VARIANT = "id sku title price"


def order_fields(nested: int) -> str:
    return (
        "id name createdAt updatedAt processedAt cancelledAt test displayFinancialStatus email phone "
        f"currencyCode subtotalPriceSet {{ {MONEY} }} totalDiscountsSet {{ {MONEY} }} "
        f"totalPriceSet {{ {MONEY} }} totalRefundedSet {{ {MONEY} }} customer {{ id }} discountCodes "
        "customAttributes { key value } "
        f"customerJourneySummary {{ firstVisit {{ {VISIT} }} lastVisit {{ {VISIT} }} }} "
        f"lineItems(first: {nested}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {LINE_ITEM} }} }} "
        f"refunds {{ id createdAt note totalRefundedSet {{ {MONEY} }} "
        f"refundLineItems(first: {nested}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {REFUND_LINE_ITEM} }} }} }}"
    )


CUSTOMER_FIELDS = (
    "id email phone firstName lastName state emailMarketingConsent { marketingState } createdAt updatedAt "
    "numberOfOrders amountSpent { amount currencyCode } defaultAddress { city countryCodeV2 }"
)


def product_fields(nested: int) -> str:
    return (
        "id title handle productType vendor status tags createdAt updatedAt "
        f"variants(first: {nested}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {VARIANT} }} }}"
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
        access_token: str,
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
        self.path = f"admin/api/{api_version}/graphql.json"
        # the token travels in Shopify's header only, never in URLs that could end up in logs
        self.http = ApiClient(
            source=SOURCE,
            base_url=api_url,
            headers={"X-Shopify-Access-Token": access_token, "Content-Type": "application/json"},
            max_attempts=max_attempts,
            backoff=backoff,
            max_wait=max_wait,
            timeout=timeout,
            throttled=shopify_throttled,
            sleep=sleep,
        )

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GraphQL request; returns `data`, raises `ShopifyQueryError` on GraphQL errors."""
        payload = self.http.request_json(
            "POST", self.path, json={"query": query, "variables": variables or {}}
        )
        if not isinstance(payload, dict):
            raise ShopifyQueryError(self.http.url(self.path), f"unexpected body {str(payload)[:200]}")
        if payload.get("errors"):
            raise ShopifyQueryError(self.http.url(self.path), payload["errors"])
        self._pace(_cost(payload))
        return payload["data"]

    def _pace(self, cost: dict[str, Any]) -> None:
        """Sleep until the bucket could pay for another query like this one (leaky-bucket pacing)."""
        needed = float(cost.get("requestedQueryCost") or 0)
        wait = _restore_seconds(cost, needed)
        if wait > 0:
            log.info("shopify: throttle bucket low (%s); waiting %.2fs", cost.get("throttleStatus"), wait)
            self.sleep(min(wait, self.max_wait))

    def pages(self, root: str, selection: str, search: str | None) -> Iterator[list[dict[str, Any]]]:
        """All nodes of a top-level connection sorted by UPDATED_AT, page by page."""
        query = (
            f"query {root.capitalize()}Page($first: Int!, $after: String, $query: String) {{ "
            f"{root}(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{ "
            f"pageInfo {{ hasNextPage endCursor }} nodes {{ {selection} }} }} }}"
        )
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
        query = (
            f"query Rest($id: ID!, $after: String) {{ {root}(id: $id) {{ {field}(first: 100, after: $after) "
            f"{{ pageInfo {{ hasNextPage endCursor }} nodes {{ {selection} }} }} }} }}"
        )
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
