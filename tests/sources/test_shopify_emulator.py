"""Tier 2: the Shopify GraphQL Admin API emulator speaks Shopify's wire format over real HTTP.

Cursor paging sorted by UPDATED_AT visits every order exactly once, the search `query` filters,
cost and throttle status ride along in `extensions.cost`, an empty bucket answers THROTTLED, an
expensive query MAX_COST_EXCEEDED, unknown fields fail validation, the token is required, and
nothing after the world's end date (or a chosen `as_of`) is served.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import requests

from tests.sources._meta_ga4_fixtures import control, emulator

ORDERS = """query Page($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { id updatedAt createdAt totalPriceSet { shopMoney { amount currencyCode } } }
  }
}"""


@pytest.fixture(scope="module")
def api(tiny_world: Path):
    with emulator("shopify", tiny_world) as (url, env, faults):
        endpoint = f"{url}/admin/api/2025-01/graphql.json"
        headers = {"X-Shopify-Access-Token": env["SHOPIFY_ACCESS_TOKEN"]}

        def post(query: str, variables: dict | None = None, **kwargs) -> requests.Response:
            return requests.post(
                endpoint,
                json={"query": query, "variables": variables or {}},
                headers=kwargs.pop("headers", headers),
                timeout=30,
                **kwargs,
            )

        yield SimpleNamespace(url=url, post=post, world=tiny_world, faults=faults)


@pytest.fixture
def api_reset(api):
    control(api.url, as_of=None, maximum_available=20_000, restore_rate=10_000, throttle_next=0, refill=True)
    return api


def _all_orders(api, query: str | None = None, first: int = 100) -> list[dict]:
    nodes, after = [], None
    while True:
        body = api.post(ORDERS, {"first": first, "after": after, "query": query}).json()
        connection = body["data"]["orders"]
        nodes += connection["nodes"]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


def test_paging_visits_every_order_once_in_updated_order(api_reset):
    nodes = _all_orders(api_reset, first=97)
    world = pd.read_parquet(api_reset.world / "orders.parquet")
    assert len(nodes) == len({n["id"] for n in nodes}) == len(world)
    assert [n["updatedAt"] for n in nodes] == sorted(n["updatedAt"] for n in nodes)
    assert all(isinstance(n["totalPriceSet"]["shopMoney"]["amount"], str) for n in nodes)
    assert nodes[0]["id"].startswith("gid://shopify/Order/")


def test_search_query_filters_on_updated_at(api_reset):
    nodes = _all_orders(api_reset)
    cut = nodes[len(nodes) // 2]["updatedAt"][:19] + "Z"  # second precision, like a connector sends it

    def after_cut(node: dict) -> bool:
        return datetime.fromisoformat(node["updatedAt"]) >= datetime.fromisoformat(cut)

    recent = _all_orders(api_reset, f"updated_at:>='{cut}'")
    assert recent and all(after_cut(n) for n in recent)
    assert len(recent) == sum(after_cut(n) for n in nodes)
    body = api_reset.post(ORDERS, {"first": 1, "query": "financial_status:paid"}).json()
    assert body["extensions"]["search"][0]["warnings"][0]["field"] == "financial_status"


def test_cost_is_reported_and_an_empty_bucket_throttles(api_reset):
    body = api_reset.post(ORDERS, {"first": 10}).json()
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 2)  # node + MoneyBag + MoneyV2
    assert cost["actualQueryCost"] == cost["requestedQueryCost"]
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}
    control(api_reset.url, maximum_available=50, restore_rate=1)
    first = api_reset.post(ORDERS, {"first": 10}).json()
    assert "data" in first and first["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 32
    throttled = api_reset.post(ORDERS, {"first": 10})
    assert throttled.status_code == 200
    body = throttled.json()
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED" and "data" not in body
    assert body["extensions"]["cost"]["actualQueryCost"] is None


def test_a_query_over_the_single_query_limit_is_refused(api_reset):
    query = "{ orders(first: 250) { nodes { id lineItems(first: 50) { nodes { id product { id } } } } } }"
    body = api_reset.post(query).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["errors"][0]["extensions"]["cost"] > 1000


def test_unknown_field_and_bad_arguments_are_graphql_errors(api_reset):
    resp = api_reset.post("{ orders(first: 1) { nodes { id foo } } }")
    assert resp.status_code == 200
    error = resp.json()["errors"][0]
    assert error["message"] == "Field 'foo' doesn't exist on type 'Order'"
    assert error["extensions"] == {"code": "undefinedField", "typeName": "Order", "fieldName": "foo"}
    missing = api_reset.post("{ orders { nodes { id } } }").json()
    assert missing["errors"][0]["message"] == "you must provide one of first or last"
    assert api_reset.post("{ orders(first: 251) { nodes { id } } }").json()["errors"]


def test_token_and_version_are_checked(api_reset):
    assert api_reset.post("{ shop { name } }", headers={}).status_code == 401
    assert api_reset.post("{ shop { name } }", headers={"X-Shopify-Access-Token": "nope"}).status_code == 401
    resp = requests.post(f"{api_reset.url}/admin/api/2025-02/graphql.json", json={"query": "{ shop { name } }"},
                         timeout=10)  # fmt: skip
    assert resp.status_code == 404


def test_only_the_shop_as_of_its_date_is_served(api_reset):
    world = pd.read_parquet(api_reset.world / "orders.parquet")
    refunds = pd.read_parquet(api_reset.world / "refunds.parquet")
    cut = refunds["created_at"].sort_values().iloc[len(refunds) // 2]
    control(api_reset.url, as_of=cut.isoformat())
    nodes = _all_orders(api_reset)
    assert len(nodes) == int((world["created_at"] < cut).sum())
    assert max(n["createdAt"] for n in nodes) < cut.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    query = (
        "{ orders(first: 250, sortKey: UPDATED_AT) { nodes { id displayFinancialStatus refunds { id } } } }"
    )
    refunded = []
    after = None
    while True:
        q = query.replace(
            "sortKey: UPDATED_AT", "sortKey: UPDATED_AT" + (f', after: "{after}"' if after else "")
        )
        page = api_reset.post(q.replace("nodes {", "pageInfo { hasNextPage endCursor } nodes {", 1)).json()
        refunded += [n for n in page["data"]["orders"]["nodes"] if n["refunds"]]
        if not page["data"]["orders"]["pageInfo"]["hasNextPage"]:
            break
        after = page["data"]["orders"]["pageInfo"]["endCursor"]
    assert len(refunded) == int((refunds["created_at"] < cut).sum())
    assert all(n["displayFinancialStatus"] != "PAID" for n in refunded)
