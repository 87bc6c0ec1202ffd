"""Tier 2: Shopify customer tags (`ingestion/activation/shopify_tags.py`) against the emulator.

Over real HTTP, no mocks: adding a tag shows on the customer (and bumps its `updatedAt`), adding it
again or removing an absent one changes nothing; an unknown customer and a tag over 255 characters are
per-customer userErrors; a missing `write_customers` scope is a `ShopifyTagError` naming it; a
Standard-rate bucket is waited on, forced THROTTLED answers, a 503 and a dropped connection are retried
and the emulator's mutation counter proves each customer was written once; a malformed gid is refused
as Shopify refuses it and a mutation costs 10 points. The contract test
(tests/contracts/test_shopify_contract.py) validates the same documents against Shopify's schema.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from ingestion.activation.shopify_tags import (
    TAGS_ADD,
    ShopifyTagClient,
    ShopifyTagError,
    TagResult,
    customer_gid,
)
from ingestion.sandbox.emulators.shopify import ACCESS_TOKEN, SCOPES, SUPPORTED_VERSIONS, TOKEN_TTL
from ingestion.shopify.client import ShopifyGraphQLClient
from ingestion.shopify.settings import ShopifySettings
from tests.sources._meta_ga4_fixtures import control, emulator

TAG = "journey:win-back"
FAST = {"SHOPIFY_BACKOFF_SECONDS": "0.01", "SHOPIFY_MAX_WAIT_SECONDS": "0.5", "SHOPIFY_MAX_ATTEMPTS": "6"}
CUSTOMERS = "query Ids($first: Int!) { customers(first: $first) { nodes { id updatedAt tags } } }"


@pytest.fixture(scope="module")
def shop(tiny_world: Path):
    with emulator("shopify", tiny_world) as (url, env, faults):
        yield SimpleNamespace(url=url, env={**env, **FAST}, faults=faults)


@pytest.fixture
def fresh(shop):
    control(shop.url, as_of=None, maximum_available=20_000, restore_rate=10_000, throttle_next=0, refill=True,
            token_ttl=TOKEN_TTL, expire_after_requests=None, scopes=list(SCOPES), legacy_token=ACCESS_TOKEN,
            reset_tags=True)  # fmt: skip
    shop.faults.clear()
    shop.tags = ShopifyTagClient.from_env(shop.env)
    return shop


def customers(shop, n: int = 50) -> list[dict]:
    return shop.tags.client.execute(CUSTOMERS, {"first": n})["customers"]["nodes"]


def tag_state(shop) -> dict:
    resp = requests.get(f"{shop.url}/_emulator/tags", timeout=10)
    resp.raise_for_status()
    return resp.json()


def raw_graphql(shop, query: str, variables: dict) -> dict:
    """One request as any client would send it (the legacy token), to see Shopify's wire format."""
    resp = requests.post(
        f"{shop.url}/admin/api/{SUPPORTED_VERSIONS[-1]}/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": ACCESS_TOKEN},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_customer_gid_accepts_ids_and_customer_gids_only():
    assert customer_gid(123) == customer_gid("123") == customer_gid("gid://shopify/Customer/123")
    assert customer_gid(" 123 ") == "gid://shopify/Customer/123"
    for bad in ("gid://shopify/Order/123", "abc", "", "0", -1, 0, "12a", True, 1.5, None):
        with pytest.raises(ValueError):
            customer_gid(bad)  # type: ignore[arg-type]


def test_add_shows_the_tag_and_adding_it_again_changes_nothing(fresh):
    before = customers(fresh)[0]
    gid = before["id"]
    assert before["tags"] == []
    assert fresh.tags.add(gid, [TAG]) == TagResult(gid, True, ())
    assert fresh.tags.tags_of(gid) == [TAG]
    after = next(c for c in customers(fresh) if c["id"] == gid)
    assert after["updatedAt"] > before["updatedAt"]  # an incremental customers load sees the change

    numeric = int(gid.rsplit("/", 1)[1])
    for again in ([TAG], [f"  {TAG.upper()} "], [TAG, TAG]):  # trimmed, case-insensitively the same tag
        assert fresh.tags.add(numeric, again).ok
    assert fresh.tags.tags_of(gid) == [TAG]
    state = tag_state(fresh)
    assert state["tags"] == {gid: [TAG]}
    assert state["mutations"] == {gid: 4} and state["writes"] == 1  # four calls, one change
    assert control(fresh.url)["tag_writes"] == 1


def test_remove_removes_and_removing_an_absent_tag_changes_nothing(fresh):
    gid = customers(fresh)[1]["id"]
    assert fresh.tags.add(gid, [TAG, "journey:vip"]).ok
    assert fresh.tags.tags_of(gid) == ["journey:vip", TAG]  # Shopify lists tags sorted
    assert fresh.tags.remove(gid, ["JOURNEY:VIP"]) == TagResult(gid, True, ())
    assert fresh.tags.tags_of(gid) == [TAG]
    assert fresh.tags.remove(gid, ["journey:never-had"]).ok
    assert fresh.tags.tags_of(gid) == [TAG]
    assert tag_state(fresh)["writes"] == 2


def test_an_unknown_customer_is_a_user_error(fresh):
    result = fresh.tags.add(987654321987, [TAG])
    assert result == TagResult("gid://shopify/Customer/987654321987", False, ("id: Customer not found",))


def test_a_tag_over_255_characters_is_a_user_error_and_nothing_is_written(fresh):
    gid = customers(fresh)[2]["id"]
    result = fresh.tags.add(gid, ["x" * 256, TAG])
    assert result == TagResult(gid, False, ("tags: Customer tags is invalid",))
    assert fresh.tags.tags_of(gid) == []
    assert fresh.tags.add(gid, ["x" * 255]).ok  # the limit itself is allowed


def test_more_than_250_tags_on_a_customer_is_a_user_error(fresh):
    gid = customers(fresh)[3]["id"]
    assert fresh.tags.add(gid, [f"t{i}" for i in range(250)]).ok
    result = fresh.tags.add(gid, ["one-too-many"])
    assert not result.ok and result.errors == ("tags: Customer can't have more than 250 tags",)
    assert len(fresh.tags.tags_of(gid)) == 250


def test_without_write_customers_the_error_names_the_scope(fresh):
    gid = customers(fresh)[0]["id"]
    control(fresh.url, scopes=[s for s in SCOPES if s != "write_customers"])
    fresh.tags = ShopifyTagClient.from_env(fresh.env)  # a token minted with the narrower grant
    with pytest.raises(ShopifyTagError) as info:
        fresh.tags.add(gid, [TAG])
    message = str(info.value)
    assert message.startswith(f"shopify: tagsAdd of {gid} failed: the app lacks the `write_customers`")
    assert info.value.mutation == "tagsAdd" and info.value.customer_gid == gid
    assert fresh.tags.tags_of(gid) == []  # reading needs read_customers only
    assert tag_state(fresh)["mutations"] == {}  # refused before anything was written


def test_a_standard_rate_bucket_is_waited_on_and_every_customer_is_tagged_once(fresh):
    # Shopify's Standard plan restores 100 points/s; its 2000-point bucket would hold 200 mutations, so
    # the bucket is shrunk to 100 points (10 mutations) to make 30 mutations wait for ~2 s of refill
    control(fresh.url, maximum_available=100, restore_rate=100)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    settings = ShopifySettings.from_env(fresh.env)
    client = ShopifyTagClient(ShopifyGraphQLClient(
        api_url=settings.api_url, api_version=settings.api_version, client_id=settings.client_id,
        client_secret=settings.client_secret, backoff=0.01, max_wait=2.0, sleep=sleep,
    ))  # fmt: skip
    gids = [c["id"] for c in customers(fresh, 30)]
    assert len(gids) == 30
    results = [client.add(gid, [TAG]) for gid in gids]
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    assert sum(slept) >= 1.0, slept  # the client waited for the bucket instead of failing
    state = tag_state(fresh)
    assert state["mutations"] == dict.fromkeys(sorted(gids), 1)
    assert control(fresh.url)["throttleStatus"]["maximumAvailable"] == 100


def test_forced_throttled_answers_are_retried_and_write_once(fresh):
    gid = customers(fresh)[4]["id"]
    control(fresh.url, throttle_next=2)
    assert fresh.tags.add(gid, [TAG]).ok
    assert control(fresh.url)["throttle_next"] == 0  # both THROTTLED answers were served, then retried
    assert tag_state(fresh)["mutations"] == {gid: 1}


def test_throttled_past_the_retries_is_a_tag_error(fresh):
    gid = customers(fresh)[4]["id"]
    control(fresh.url, throttle_next=10)
    client = ShopifyTagClient.from_env({**fresh.env, "SHOPIFY_MAX_ATTEMPTS": "3"})
    with pytest.raises(ShopifyTagError) as info:
        client.add(gid, [TAG])
    assert str(info.value).startswith(f"shopify: tagsAdd of {gid} failed: shopify: POST ")
    assert "failed after 3 attempt(s): HTTP 200" in str(info.value) and "THROTTLED" in str(info.value)


def test_a_503_and_a_dropped_connection_are_retried_and_the_tag_is_written_once(fresh):
    gid = customers(fresh)[5]["id"]
    fresh.faults.plan("503", path_contains="/graphql.json")
    fresh.faults.plan("drop", path_contains="/graphql.json")
    assert fresh.tags.add(gid, [TAG]).ok
    assert [r.fault for r in fresh.faults.requests if r.fault] == ["503", "drop"]
    assert fresh.faults.pending == 0
    assert fresh.tags.tags_of(gid) == [TAG]
    assert tag_state(fresh)["mutations"] == {gid: 1}


def test_a_malformed_gid_is_refused_like_shopify_and_a_mutation_costs_10(fresh):
    refused = raw_graphql(fresh, TAGS_ADD, {"id": "not-a-gid", "tags": [TAG]})
    assert "data" not in refused
    [error] = refused["errors"]
    assert error["message"] == "Variable $id of type ID! was provided invalid value"
    assert error["extensions"]["code"] == "INVALID_VARIABLE"
    assert error["extensions"]["problems"][0]["explanation"] == "Invalid global id 'not-a-gid'"

    literal = TAGS_ADD.replace("tagsAdd(id: $id", 'tagsAdd(id: "nope"').replace("$id: ID!, ", "")
    error = raw_graphql(fresh, literal, {"tags": [TAG]})["errors"][0]
    assert error["message"] == "Invalid global id 'nope'"

    gid = customers(fresh)[6]["id"]
    done = raw_graphql(fresh, TAGS_ADD, {"id": gid, "tags": [TAG]})
    assert done["data"]["tagsAdd"] == {"node": {"id": gid}, "userErrors": []}
    assert done["extensions"]["cost"]["requestedQueryCost"] == 10
    assert done["extensions"]["cost"]["actualQueryCost"] == 10
    other = raw_graphql(fresh, TAGS_ADD, {"id": "gid://shopify/Shop/1", "tags": [TAG]})
    assert other["errors"][0]["message"] == "invalid id"
