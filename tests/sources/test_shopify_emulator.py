"""Tier 2: the Shopify GraphQL Admin API emulator speaks Shopify's wire format over real HTTP.

Cursor paging sorted by UPDATED_AT visits every order exactly once, the search `query` filters,
cost and throttle status ride along in `extensions.cost`, an empty bucket answers THROTTLED, an
expensive query MAX_COST_EXCEEDED, unknown fields fail validation, nothing after the world's end date
(or a chosen `as_of`) is served; and Shopify's rules of Dec 2026 are enforced: the client-credentials
grant with Shopify's OAuth errors, tokens that expire (401 with Shopify's body), the legacy static
token, the supported-version window (an unsupported version served as the oldest supported one, with
`X-Shopify-API-Version` saying so), access scopes (`ACCESS_DENIED`, 60 days of orders without
`read_all_orders`), and the non-deprecated customer email/phone fields.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import requests

from ingestion.sandbox.emulators.shopify import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    INVALID_TOKEN,
    SCOPES,
    SUPPORTED_VERSIONS,
    TOKEN_TTL,
)
from tests.sources._meta_ga4_fixtures import control, emulator

VERSION = SUPPORTED_VERSIONS[-1]
GRANT = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

ORDERS = """query Page($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { id updatedAt createdAt totalPriceSet { shopMoney { amount currencyCode } } }
  }
}"""


def mint(url: str, **form) -> requests.Response:
    return requests.post(f"{url}/admin/oauth/access_token", data={**GRANT, **form}, timeout=10)


@pytest.fixture(scope="module")
def api(tiny_world: Path):
    with emulator("shopify", tiny_world) as (url, env, faults):
        assert env == {
            "SHOPIFY_API_URL": url,
            "SHOPIFY_CLIENT_ID": CLIENT_ID,
            "SHOPIFY_CLIENT_SECRET": CLIENT_SECRET,
        }
        state = SimpleNamespace(url=url, world=tiny_world, faults=faults, headers={})

        def post(
            query: str, variables: dict | None = None, version: str = VERSION, **kwargs
        ) -> requests.Response:
            return requests.post(
                f"{url}/admin/api/{version}/graphql.json",
                json={"query": query, "variables": variables or {}},
                headers=kwargs.pop("headers", state.headers),
                timeout=30,
                **kwargs,
            )

        state.post = post
        yield state


@pytest.fixture
def api_reset(api):
    control(api.url, as_of=None, maximum_available=20_000, restore_rate=10_000, throttle_next=0, refill=True,
            token_ttl=TOKEN_TTL, expire_after_requests=None, scopes=list(SCOPES), legacy_token=ACCESS_TOKEN)  # fmt: skip
    api.headers = {"X-Shopify-Access-Token": mint(api.url).json()["access_token"]}
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
    for headers in ({}, {"X-Shopify-Access-Token": "nope"}):
        resp = api_reset.post("{ shop { name } }", headers=headers)
        assert resp.status_code == 401 and resp.json() == {"errors": INVALID_TOKEN}
    for malformed in ("2025-02", "2026-1", "latest", "2027-04"):  # not quarterly, not a version, not released
        assert api_reset.post("{ shop { name } }", version=malformed).status_code == 404, malformed


def test_client_credentials_grant_like_shopify(api_reset):
    resp = mint(api_reset.url)
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"access_token", "scope", "expires_in"}
    assert body["access_token"].startswith("shpat_") and body["expires_in"] == 86_399
    assert body["scope"].split(",") == list(SCOPES)
    as_json = requests.post(
        f"{api_reset.url}/admin/oauth/access_token", json=GRANT, timeout=10
    )  # JSON body too
    assert as_json.status_code == 200 and as_json.json()["access_token"] != body["access_token"]
    wrong = mint(api_reset.url, client_secret="shpss_wrong")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert "error_description" in wrong.json() and "shpss_wrong" not in wrong.text
    assert mint(api_reset.url, client_id="someone-else").json()["error"] == "invalid_client"
    missing = mint(api_reset.url, client_secret="")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    other = mint(api_reset.url, grant_type="authorization_code")
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"
    headers = {"X-Shopify-Access-Token": body["access_token"]}
    assert api_reset.post("{ shop { name } }", headers=headers).json()["data"]["shop"]["name"]


def test_minted_tokens_expire_and_the_legacy_token_does_not(api_reset):
    assert api_reset.post("{ shop { name } }").status_code == 200
    control(api_reset.url, expire_tokens=True)
    resp = api_reset.post("{ shop { name } }")
    assert resp.status_code == 401 and resp.json() == {"errors": INVALID_TOKEN}
    legacy = {"X-Shopify-Access-Token": ACCESS_TOKEN}
    assert api_reset.post("{ shop { name } }", headers=legacy).status_code == 200
    # a token running out mid-load: N more requests, then 401 (and the legacy token is untouched)
    fresh = {"X-Shopify-Access-Token": mint(api_reset.url).json()["access_token"]}
    control(api_reset.url, expire_after_requests=2)
    codes = [api_reset.post("{ shop { name } }", headers=fresh).status_code for _ in range(3)]
    assert codes == [200, 200, 401]
    assert api_reset.post("{ shop { name } }", headers=legacy).status_code == 200
    assert control(api_reset.url)["tokens_valid"] == 0
    # the TTL: a token minted with a short one is refused once it has passed
    control(api_reset.url, token_ttl=0.2)
    short = mint(api_reset.url).json()
    assert short["expires_in"] == 0
    time.sleep(0.3)
    assert (
        api_reset.post(
            "{ shop { name } }", headers={"X-Shopify-Access-Token": short["access_token"]}
        ).status_code
        == 401
    )
    control(api_reset.url, legacy_token=None)  # an emulator set up without a legacy custom app
    assert api_reset.post("{ shop { name } }", headers=legacy).status_code == 401


def test_version_window_serves_the_oldest_supported_for_an_unsupported_version(api_reset):
    for asked, served in [(VERSION, VERSION), (SUPPORTED_VERSIONS[0], SUPPORTED_VERSIONS[0]),
                          ("unstable", "unstable"), ("2025-01", SUPPORTED_VERSIONS[0]),
                          ("2023-04", SUPPORTED_VERSIONS[0])]:  # fmt: skip
        resp = api_reset.post("{ shop { name } }", version=asked)
        assert resp.status_code == 200 and resp.headers["X-Shopify-API-Version"] == served, asked
    assert SUPPORTED_VERSIONS == ("2026-01", "2026-04", "2026-07", "2026-10")  # the window in Dec 2026
    unauthorized = api_reset.post("{ shop { name } }", version="2025-01", headers={})
    assert unauthorized.status_code == 401 and unauthorized.headers["X-Shopify-API-Version"] == "2026-01"


def test_access_scopes_are_listed_and_enforced(api_reset):
    query = "{ currentAppInstallation { accessScopes { handle } } }"
    scopes = api_reset.post(query).json()["data"]["currentAppInstallation"]["accessScopes"]
    assert [s["handle"] for s in scopes] == list(SCOPES)
    everything = len(_all_orders(api_reset))
    control(api_reset.url, scopes=["read_orders", "read_products"])
    denied = api_reset.post("{ customers(first: 1) { nodes { id } } }").json()
    assert denied["data"] is None
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert denied["errors"][0]["message"] == (
        "Access denied for customers field. Required access: `read_customers` access scope."
    )
    recent = _all_orders(api_reset)  # without read_all_orders: the last 60 days of orders only
    end = control(api_reset.url)["as_of"]
    cutoff = (datetime.fromisoformat(end.replace("Z", "+00:00")) - timedelta(days=60)).isoformat()
    world = pd.read_parquet(api_reset.world / "orders.parquet")
    assert 0 < len(recent) < everything == len(world)
    assert all(n["createdAt"] >= cutoff[:19] for n in recent)
    control(api_reset.url, scopes=["write_customers", "read_orders", "read_all_orders"])  # write implies read
    assert api_reset.post("{ customers(first: 1) { nodes { id } } }").json()["data"]["customers"]["nodes"]


def test_customer_email_and_phone_from_the_default_contact_fields(api_reset):
    query = (
        "{ customers(first: 200) { nodes { id email phone emailMarketingConsent { marketingState } "
        "defaultEmailAddress { emailAddress marketingState } defaultPhoneNumber { phoneNumber } } } }"
    )
    nodes = api_reset.post(query).json()["data"]["customers"]["nodes"]
    assert nodes
    for node in nodes:
        email, phone = node["defaultEmailAddress"], node["defaultPhoneNumber"]
        assert (email or {}).get("emailAddress") == node["email"]
        assert (phone or {}).get("phoneNumber") == node["phone"]
        if email:
            assert email["marketingState"] == node["emailMarketingConsent"]["marketingState"]
    assert any(n["defaultPhoneNumber"] for n in nodes)


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
