"""Tier 2: the Shopify dlt source against the GraphQL Admin API emulator on the tiny shop, into real Postgres.

The contract's tables and types exactly; loaded twice (idempotent; the second run only asks for what
changed, read from the emulator's request log); a shop seen earlier then later converges to a clean
load (new refunds replace the orders' child rows, no duplicates); every fault recovered; exhausted
retries name the endpoint and status; a load killed midway then re-run equals a clean run; unknown
fields and a missing token are rejected. Auth and versions as Shopify has them today: a client-credentials
token expiring mid-load is re-minted and the load equals a clean one; a token near its expiry is
re-minted before use; a wrong client secret fails at once with Shopify's reason and no secret; an
unsupported API version is served as the oldest supported one and raises an `api_version_mismatch`
notice; every query document a load sends is one the contract test validates. (The order history
import is tested in test_order_history.py; `check()` in test_shopify_check.py.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import requests
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.common.http import SourceAPIError
from ingestion.common.notices import collect_notices
from ingestion.sandbox.emulators.meta_world import world_end_date
from ingestion.sandbox.emulators.shopify import ACCESS_TOKEN, SCOPES, SUPPORTED_VERSIONS, TOKEN_TTL
from ingestion.shopify import ShopifySettings, run_shopify_pipeline, shopify_pipeline
from ingestion.shopify.auth import ClientCredentialsAuth, ShopifyAuthError
from ingestion.shopify.client import ShopifyGraphQLClient, ShopifyQueryError, query_documents
from ingestion.shopify.settings import DEFAULT_API_VERSION
from tests.sources._meta_ga4_fixtures import (
    FAST_HTTP,
    columns,
    control,
    duplicate_keys,
    emulator,
    query,
    reset_dataset,
    run_killed_midway,
    table_rows,
)

PIPELINE = "test_shopify"
KEYS = {
    "orders": ("id",), "order_line_items": ("id",), "refunds": ("id",), "refund_line_items": ("id",),
    "customers": ("id",), "products": ("id",), "product_variants": ("id",),
}  # fmt: skip
VISIT = [
    "source", "source_type", "landing_page", "referrer_url", "occurred_at", "utm_source", "utm_medium",
    "utm_campaign", "utm_content", "utm_term", "utm_id",
]  # fmt: skip
CONTRACT = {
    "orders": {
        "id", "name", "created_at", "updated_at", "processed_at", "cancelled_at", "test", "financial_status",
        "email", "phone", "currency_code", "subtotal_amount", "total_discounts_amount", "total_price_amount",
        "total_refunded_amount", "total_shipping_amount", "total_tax_amount", "customer_id", "discount_codes",
        "journey_anonymous_id", "landing_page",
        "referring_site", *(f"{v}_{f}" for v in ("first_visit", "last_visit") for f in VISIT),
    },
    "order_line_items": {
        "id", "order_id", "product_id", "variant_id", "sku", "title", "quantity", "original_unit_price_amount",
        "total_discount_amount", "order_updated_at",
    },
    "refunds": {"id", "order_id", "created_at", "note", "total_refunded_amount", "order_updated_at"},
    "refund_line_items": {"id", "refund_id", "order_id", "line_item_id", "quantity", "subtotal_amount"},
    "customers": {
        "id", "email", "phone", "first_name", "last_name", "state", "accepts_marketing", "created_at",
        "updated_at", "number_of_orders", "amount_spent_amount", "city", "country_code", "province_code",
    },
    "products": {"id", "title", "handle", "product_type", "vendor", "status", "tags", "created_at", "updated_at"},
    "product_variants": {"id", "product_id", "sku", "title", "price", "unit_cost_amount"},
}  # fmt: skip
WORLD_TABLES = {
    "orders": "orders", "order_line_items": "order_line_items", "refunds": "refunds",
    "refund_line_items": "refund_line_items", "customers": "customers", "products": "products",
    "product_variants": "product_variants",
}  # fmt: skip
DLT_COLUMNS = {"_dlt_load_id", "_dlt_id"}


@pytest.fixture(scope="module")
def shop(tiny_world: Path, warehouse):
    with emulator("shopify", tiny_world) as (url, env, faults):
        yield SimpleNamespace(url=url, env=env, faults=faults, world=tiny_world, warehouse=warehouse)
    reset_dataset(warehouse, "shopify", PIPELINE)


def _reset(shop) -> None:
    reset_dataset(shop.warehouse, "shopify", PIPELINE)
    control(shop.url, as_of=None, maximum_available=20_000, restore_rate=10_000, throttle_next=0, refill=True,
            token_ttl=TOKEN_TTL, expire_after_requests=None, scopes=list(SCOPES), legacy_token=ACCESS_TOKEN)  # fmt: skip
    shop.faults.clear()


def _cause(error: BaseException, kind: type) -> BaseException | None:
    while error is not None and not isinstance(error, kind):
        error = error.__cause__ or error.__context__
    return error


def _graphql_statuses(shop) -> list[int]:
    return [r.status for r in shop.faults.requests if r.path.endswith("/graphql.json") and not r.fault]


def load(shop, **overrides):
    settings = ShopifySettings.from_env(shop.env, **{**FAST_HTTP, **overrides})
    return run_shopify_pipeline(settings, pipeline=shopify_pipeline(pipeline_name=PIPELINE))


def snapshot() -> dict[str, list[tuple]]:
    return {table: table_rows("shopify", table, key) for table, key in KEYS.items()}


def graphql_requests(shop, root: str = "orders") -> list[dict]:
    """Variables of every top-level `<root>(first:…)` page request in the emulator's log."""
    out = []
    for r in shop.faults.requests:
        if r.path.endswith("/graphql.json") and r.body:
            body = json.loads(r.body)
            if f" {root}(first: $first" in body.get("query", "") and r.status == 200 and not r.fault:
                out.append(body["variables"])
    return out


@pytest.fixture(scope="module")
def reference(shop) -> dict[str, list[tuple]]:
    """A clean full load: the tables every other run must reproduce."""
    _reset(shop)
    load(shop)
    return snapshot()


@pytest.fixture
def fresh(shop, reference):
    _reset(shop)
    return shop


def test_tables_follow_the_contract_exactly(shop, reference):
    for table, expected in CONTRACT.items():
        assert columns("shopify", table) == expected | DLT_COLUMNS, table
        assert duplicate_keys("shopify", table, KEYS[table]) == 0, table
        world = pd.read_parquet(shop.world / f"{WORLD_TABLES[table]}.parquet")
        assert len(reference[table]) - 1 == len(world), table
    types = dict(
        query(
            "select table_name || '.' || column_name, data_type from information_schema.columns "
            "where table_schema = 'shopify'"
        )
    )
    assert types["orders.created_at"] == types["refunds.order_updated_at"] == "timestamp with time zone"
    assert types["orders.first_visit_occurred_at"] == "timestamp with time zone"
    assert types["orders.total_price_amount"] == types["product_variants.price"] == "numeric"
    assert types["order_line_items.quantity"] == types["customers.number_of_orders"] == "bigint"
    assert types["orders.test"] == types["customers.accepts_marketing"] == "boolean"
    assert types["orders.first_visit_utm_id"] == "character varying"  # dlt text; all-null yet present


def test_values_match_the_simulated_shop(shop, reference):
    orders = pd.read_parquet(shop.world / "orders.parquet")
    total, refunded = query("select sum(total_price_amount), sum(total_refunded_amount) from shopify.orders")[
        0
    ]
    assert total == Decimal(sum(orders["total_price"]))
    assert refunded == Decimal(sum(orders["total_refunded"]))
    shipping, tax = query("select sum(total_shipping_amount), sum(total_tax_amount) from shopify.orders")[0]
    assert shipping == Decimal(sum(orders["total_shipping"])) > 0
    assert tax == 0  # the simulated shop collects no tax; the column is still loaded
    variants = pd.read_parquet(shop.world / "product_variants.parquet")
    (cost,) = query("select sum(unit_cost_amount) from shopify.product_variants")[0]
    assert cost == Decimal(sum(variants["unit_cost"])) > 0
    first = orders.iloc[0]
    row = query(
        "select id, name, customer_id, journey_anonymous_id, financial_status, created_at, discount_codes "
        "from shopify.orders where id = %s",
        (f"gid://shopify/Order/{first['order_id']}",),
    )[0]
    assert row[1] == first["name"] and row[2] == f"gid://shopify/Customer/{first['customer_id']}"
    assert row[3] == first["anonymous_id"] and row[4] == first["financial_status"]
    assert row[5] == first["created_at"].to_pydatetime() and row[6] == first["discount_code"]
    tagged = query("select count(*) from shopify.orders where first_visit_utm_source is not null")[0][0]
    untagged = query(
        "select count(*) from shopify.orders where first_visit_utm_source is null and first_visit_source is not null"
    )[0][0]
    assert tagged > 0 and untagged > 0
    repeatable = query("select count(*) from shopify.products where tags = 'repeatable'")[0][0]
    assert repeatable == int(pd.read_parquet(shop.world / "products.parquet")["repeatable"].sum())
    # line items of refunded orders point at their order's line items
    orphans = query(
        "select count(*) from shopify.refund_line_items r left join shopify.order_line_items l "
        "on r.line_item_id = l.id and r.order_id = l.order_id where l.id is null"
    )[0][0]
    assert orphans == 0


def test_second_run_only_fetches_changed_orders_and_changes_nothing(fresh, reference):
    load(fresh)
    last = query("select max(updated_at) from shopify.orders")[0][0]
    fresh.faults.clear()
    load(fresh)
    assert snapshot() == reference
    pages = graphql_requests(fresh, "orders")
    assert pages, "the second run requested no orders"
    since = (last - timedelta(minutes=10)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {p["query"] for p in pages} == {f"updated_at:>='{since}'"}
    assert len({p["after"] for p in pages}) == 1  # a handful of recent orders, one page


def test_a_later_run_picks_up_new_orders_and_refunds_without_stale_rows(fresh, reference):
    end = world_end_date(fresh.world)
    early = datetime.combine(end - timedelta(days=45), datetime.min.time(), tzinfo=UTC)
    control(fresh.url, as_of=early.isoformat())
    load(fresh)
    cutoff = query("select max(updated_at) from shopify.orders")[0][0] - timedelta(minutes=10)
    before = snapshot()
    assert len(before["orders"]) < len(reference["orders"])
    partial = query(
        "select count(*) from shopify.orders where financial_status = 'PAID' and id in "
        "(select order_id from shopify.refunds)"
    )[0][0]
    assert partial == 0
    control(fresh.url, as_of=None)
    fresh.faults.clear()
    load(fresh)
    assert snapshot() == reference  # refunds that happened since were added, child rows replaced
    for table, key in KEYS.items():
        assert duplicate_keys("shopify", table, key) == 0, table
    pages = graphql_requests(fresh, "orders")
    changed = query("select count(*) from shopify.orders where updated_at >= %s", (cutoff,))[0][0]
    assert 0 < changed < (len(reference["orders"]) - 1) / 3
    size = pages[-1]["first"]
    assert len({p["after"] for p in pages}) == -(-changed // size)  # exactly the changed orders' pages


def test_every_fault_is_recovered(fresh, reference):
    control(fresh.url, throttle_next=2)  # before planning: the control call is served through faults too
    fresh.faults.plan("429", retry_after=0.05)
    for kind in ("500", "502", "503", "drop"):
        fresh.faults.plan(kind)
    fresh.faults.plan("slow", delay=0.3)
    fresh.faults.plan("malformed", path_contains="/graphql.json")
    load(fresh, max_attempts=12)  # the faults may all hit the same request back to back
    assert snapshot() == reference
    served = [r.fault for r in fresh.faults.requests if r.fault]
    assert sorted(served) == sorted(["429", "500", "502", "503", "drop", "slow", "malformed"])
    assert fresh.faults.pending == 0
    assert control(fresh.url)["throttle_next"] == 0  # both THROTTLED answers were served, then retried


def test_standard_plan_bucket_is_paced_and_the_load_still_completes(fresh, reference):
    control(fresh.url, maximum_available=1_000, restore_rate=4_000)
    load(fresh)
    assert snapshot() == reference
    state = control(fresh.url)
    assert state["throttleStatus"]["maximumAvailable"] == 1_000


def test_too_expensive_pages_shrink(fresh, reference):
    load(fresh, page_size=250)
    assert snapshot() == reference
    firsts = [p["first"] for p in graphql_requests(fresh, "orders")]
    assert firsts[0] == 250 and len(set(firsts[1:])) == 1 and firsts[1] < 250  # refused once, then smaller


def test_exhausted_retries_name_source_endpoint_status_and_body(fresh):
    fresh.faults.plan("503", times=5, path_contains="/graphql.json")
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, max_attempts=3)
    error = _cause(info.value, SourceAPIError)
    assert isinstance(error, SourceAPIError), info.value
    message = str(error)
    assert message.startswith(
        f"shopify: POST {fresh.url}/admin/api/{DEFAULT_API_VERSION}/graphql.json failed after 3 attempt(s)"
    )
    assert "HTTP 503" in message and "emulator fault: HTTP 503" in message
    assert fresh.env["SHOPIFY_CLIENT_SECRET"] not in str(info.value)


def test_exhausted_throttling_reports_throttled(fresh):
    control(fresh.url, throttle_next=5)
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, max_attempts=3)
    assert "failed after 3 attempt(s): HTTP 200" in str(info.value) and "THROTTLED" in str(info.value)


def test_load_killed_midway_then_rerun_equals_clean_run(fresh, reference):
    for _ in range(3):
        fresh.faults.plan("slow", delay=0.0, path_contains="/graphql.json")
    fresh.faults.plan("slow", delay=6.0, path_contains="/graphql.json")
    code = (
        "from ingestion.shopify import ShopifySettings, shopify_pipeline, run_shopify_pipeline\n"
        "run_shopify_pipeline(ShopifySettings.from_env(page_size=5, backoff=0.01),"
        f" pipeline=shopify_pipeline(pipeline_name={PIPELINE!r}))\n"
    )
    run_killed_midway(code, fresh.env, lambda: sum(r.fault == "slow" for r in fresh.faults.requests) >= 4)
    load(fresh)
    assert snapshot() == reference


def test_unknown_field_is_rejected_like_shopify(shop):
    client = ShopifyGraphQLClient(
        api_url=shop.env["SHOPIFY_API_URL"], api_version=DEFAULT_API_VERSION,
        client_id=shop.env["SHOPIFY_CLIENT_ID"], client_secret=shop.env["SHOPIFY_CLIENT_SECRET"], max_attempts=1,
    )  # fmt: skip
    with pytest.raises(ShopifyQueryError) as info:
        client.execute("{ orders(first: 1) { nodes { id totalPriceUsd } } }")
    assert info.value.code() == "undefinedField"
    assert "Field 'totalPriceUsd' doesn't exist on type 'Order'" in str(info.value)


def test_access_token_is_required_and_the_legacy_token_still_works(shop):
    url = f"{shop.url}/admin/api/{DEFAULT_API_VERSION}/graphql.json"
    resp = requests.post(url, json={"query": "{ shop { name } }"}, timeout=10)
    assert resp.status_code == 401 and "Invalid API key or access token" in resp.text
    legacy = {"SHOPIFY_API_URL": shop.url, "SHOPIFY_ACCESS_TOKEN": ACCESS_TOKEN}
    client = ShopifyGraphQLClient(**{k: v for k, v in ShopifySettings.from_env(legacy).source_kwargs().items()
                                     if k in ("api_url", "api_version", "access_token", "client_id")})  # fmt: skip
    assert client.auth is None and client.execute("{ shop { name } }")["shop"]["name"]
    settings = ShopifySettings.from_env({**legacy, "SHOPIFY_ACCESS_TOKEN": "shpat_wrong"}, **FAST_HTTP)
    with pytest.raises(PipelineStepFailed) as info:
        run_shopify_pipeline(settings, pipeline=shopify_pipeline(pipeline_name=f"{PIPELINE}_badtoken"))
    assert "failed after 1 attempt(s): HTTP 401" in str(info.value)  # a static token is not refreshed
    assert "shpat_wrong" not in str(info.value)


def test_a_token_expiring_mid_load_is_reminted_and_the_load_equals_a_clean_one(fresh, reference):
    before = control(fresh.url)["tokens_minted"]
    control(fresh.url, expire_after_requests=5)  # the token dies after 5 GraphQL requests of the load
    load(fresh)
    assert snapshot() == reference
    for table, key in KEYS.items():
        assert duplicate_keys("shopify", table, key) == 0, table
    assert control(fresh.url)["tokens_minted"] == before + 2  # the first token, then one re-mint
    statuses = _graphql_statuses(fresh)
    assert statuses[:5] == [200] * 5 and statuses[5] == 401 and statuses.count(401) == 1
    assert all(code == 200 for code in statuses[6:])  # the refused request was sent again, then the rest


def test_a_token_about_to_expire_is_reminted_before_use(shop):
    now = [1_000_000.0]
    auth = ClientCredentialsAuth(api_url=shop.url, client_id=shop.env["SHOPIFY_CLIENT_ID"],
                                 client_secret=shop.env["SHOPIFY_CLIENT_SECRET"], clock=lambda: now[0])  # fmt: skip
    first = auth.token()
    assert first.expires_in == int(TOKEN_TTL) and set(first.scopes) == set(SCOPES)
    now[0] += TOKEN_TTL - 301  # more than the 5-minute margin left: kept
    assert auth.token() is first and auth.minted == 1
    now[0] += 2  # under 5 minutes left: minted again before it can fail a request
    second = auth.token()
    assert second.value != first.value and auth.minted == 2
    auth.refresh()  # what ApiClient does after a 401
    assert auth.headers()["X-Shopify-Access-Token"] not in (first.value, second.value) and auth.minted == 3


def test_a_wrong_client_secret_fails_at_once_with_shopifys_reason_and_no_secret(fresh):
    wrong = "shpss_wrong_0000000000000000"
    settings = ShopifySettings.from_env({**fresh.env, "SHOPIFY_CLIENT_SECRET": wrong}, **FAST_HTTP)
    with pytest.raises(PipelineStepFailed) as info:
        run_shopify_pipeline(settings, pipeline=shopify_pipeline(pipeline_name=f"{PIPELINE}_badsecret"))
    error = _cause(info.value, ShopifyAuthError)
    assert isinstance(error, ShopifyAuthError), info.value
    assert str(error).startswith(
        f"shopify: POST {fresh.url}/admin/oauth/access_token failed after 1 attempt(s): HTTP 401: "
        "client-credentials token exchange refused: invalid_client: Client authentication failed"
    )
    assert "check SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET" in str(error)
    for secret in (wrong, fresh.env["SHOPIFY_CLIENT_SECRET"]):
        assert secret not in str(info.value) and secret not in str(error)
    token_requests = [r for r in fresh.faults.requests if r.path == "/admin/oauth/access_token"]
    assert len(token_requests) == 1 and not _graphql_statuses(fresh)  # refused once, nothing else sent


def test_an_unsupported_version_is_served_as_the_oldest_supported_with_a_notice(fresh, reference):
    with collect_notices() as notices:
        load(fresh, api_version="2025-01")
    assert snapshot() == reference  # the same data, through 2026-01's schema
    mismatches = [n for n in notices if n.code == "api_version_mismatch"]
    assert len(mismatches) == 1  # once per load, not once per page
    assert mismatches[0].facts == {"requested": "2025-01", "served": SUPPORTED_VERSIONS[0]}
    assert "set SHOPIFY_API_VERSION to a supported version" in mismatches[0].message
    with collect_notices() as notices:
        load(fresh)
    assert [n for n in notices if n.code == "api_version_mismatch"] == []  # the default is served as asked


def test_every_document_a_load_sends_is_validated_by_the_contract_test(fresh, reference):
    load(fresh, page_size=20, nested_page_size=1)  # small pages: the nested rest-of queries run too
    sent = {json.loads(r.body)["query"] for r in fresh.faults.requests
            if r.path.endswith("/graphql.json") and r.body}  # fmt: skip
    documents = set(query_documents(nested=1).values())
    assert sent <= documents, sent - documents
    assert len(sent) == 6  # three feeds' pages and the three nested rest-of queries
    assert snapshot() == reference
