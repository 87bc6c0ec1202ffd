"""Meta Custom Audiences (customer lists): Meta's normalization and hashing, and the audience client
against the Meta emulator on the tiny shop, over real HTTP.

Audiences are created once and reused by name, people are added in one session of batches and removed
again, the emulator refuses what Meta refuses (over 10,000 rows, unhashed data, batches out of order),
and throttling, missing permissions and failing batches end as errors that name the audience and call.
The expected audience sizes are computed here from the world's customers with hashlib, not with the
module under test.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from ingestion.activation.hashing import (
    is_sha256_hex,
    match_row,
    normalize_email,
    normalize_phone,
    sha256_hex,
)
from ingestion.activation.meta_audiences import (
    MAX_USERS_PER_REQUEST,
    AudienceSize,
    AudienceSyncError,
    MetaAudienceClient,
    new_session_id,
)
from ingestion.common.http import SourceAPIError
from ingestion.meta_ads.client import THROTTLE_CODES
from ingestion.meta_ads.settings import DEFAULT_API_VERSION
from ingestion.sandbox.emulators.meta import ACCESS_TOKEN
from ingestion.sandbox.emulators.meta_world import read_table
from tests.sources._meta_ga4_fixtures import control, emulator

MAX_ATTEMPTS = 4
FAST_ENV = {
    "META_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "META_BACKOFF_SECONDS": "0.01",
    "META_MAX_WAIT_SECONDS": "0.05",
}
RESET = {
    "throttle_next": [], "rate_limit": None, "permissions": None, "throttle_audience_next": 0,
    "fail_user_batches_after": None,
}  # fmt: skip
JOHN = "john_smith@gmail.com"
TEST_EXAMPLE_DIGEST = (
    "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"  # sha256("test@example.com")
)


# -- hashing ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (" John_Smith@gmail.com ", JOHN),  # Meta's example: trim and lowercase
        ("JOHN_SMITH@GMAIL.COM", JOHN),
        ("\tjohn_smith@gmail.com\n", JOHN),
        (None, None),
        ("", None),
        ("   ", None),
        ("john_smith.gmail.com", None),
        ("@gmail.com", None),
        ("john_smith@", None),
        ("john@smith@gmail.com", None),
    ],
)
def test_normalize_email(raw: str | None, normalized: str | None) -> None:
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "country", "normalized"),
    [
        ("+1 (650) 555-1212", "1", "16505551212"),  # Meta's example: digits with the country code
        ("650-555-1212", "1", "16505551212"),  # NANP national number: the default country code added
        ("(650) 555.1212", "1", "16505551212"),
        ("1 650 555 1212", "1", "16505551212"),
        ("001 650 555 1212", "1", "16505551212"),  # international 00 prefix dropped
        ("+44 20 7946 0958", "1", "442079460958"),  # an explicit country code wins over the default
        ("0044 20 7946 0958", "1", "442079460958"),
        ("020 7946 0958", "44", "442079460958"),  # national trunk 0 replaced by the country code
        ("+1555123", "1", "1555123"),
        ("555-12", "1", None),  # fewer than 7 digits
        ("", "1", None),
        (None, "1", None),
        ("+1234567890123456", "1", None),  # longer than E.164 allows
    ],
)
def test_normalize_phone(raw: str | None, country: str, normalized: str | None) -> None:
    assert normalize_phone(raw, country) == normalized


def test_sha256_hex_is_lowercase_hex_of_the_normalized_value() -> None:
    assert sha256_hex(JOHN) == hashlib.sha256(JOHN.encode()).hexdigest()
    assert sha256_hex("test@example.com") == TEST_EXAMPLE_DIGEST
    assert is_sha256_hex(TEST_EXAMPLE_DIGEST)
    for not_hashed in (TEST_EXAMPLE_DIGEST.upper(), TEST_EXAMPLE_DIGEST[:-1], "test@example.com", None, 42):
        assert not is_sha256_hex(not_hashed), not_hashed


def test_match_row_hashes_normalized_keys() -> None:
    email, phone = match_row(" John_Smith@gmail.com ", "+1 (650) 555-1212")
    assert email == hashlib.sha256(JOHN.encode()).hexdigest()
    assert phone == hashlib.sha256(b"16505551212").hexdigest()
    assert match_row(None, "650-555-1212") == (None, phone)
    assert match_row("not an email", "12") == (None, None)


# -- the emulator and the world -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def meta(tiny_world: Path):
    with emulator("meta", tiny_world) as (url, env, faults):
        yield SimpleNamespace(url=url, env=env, faults=faults, world=tiny_world)


@pytest.fixture
def client(meta) -> MetaAudienceClient:
    control(meta.url, **RESET)
    meta.faults.clear()
    yield MetaAudienceClient.from_env({**meta.env, **FAST_ENV}, batch_size=50)
    control(meta.url, **RESET)


@pytest.fixture(scope="module")
def people(tiny_world: Path) -> list[dict[str, Any]]:
    """Every customer with the hashes computed here (hashlib) and whether Meta knows them (~70 %)."""
    customers = read_table(tiny_world, "customers")
    out = []
    for customer_id, email, phone in customers[["customer_id", "email", "phone"]].itertuples(index=False):
        email_hash = (
            hashlib.sha256(email.strip().lower().encode()).hexdigest() if isinstance(email, str) else None
        )
        phone_hash = (
            hashlib.sha256("".join(c for c in phone if c.isdigit()).encode()).hexdigest()
            if isinstance(phone, str)
            else None
        )
        anchor = email_hash or phone_hash
        known = anchor is not None and int(anchor, 16) % 10 < 7
        out.append({"id": customer_id, "row": (email_hash, phone_hash), "anchor": anchor, "known": known})
    assert len(out) > 150, "the tiny world should have enough customers for three batches of 50"
    return out


def records(meta, audience_id: str) -> dict[str, Any]:
    resp = requests.get(f"{meta.url}/_emulator/audiences", timeout=10)
    resp.raise_for_status()
    return resp.json()["audiences"][audience_id]


def bounds(n: int) -> tuple[int, int]:
    """Two significant digits down and up (the emulator's documented rule), computed independently."""
    if n < 100:
        return n, n
    step = 10 ** (math.floor(math.log10(n)) - 1)
    return math.floor(n / step) * step, math.ceil(n / step) * step


def upload(client: MetaAudienceClient, audience_id: str, rows: list, remove: bool = False) -> list:
    """Every row in one session of `client.batch_size` batches; the results of each batch."""
    session, size = new_session_id(), client.batch_size
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    call = client.remove_users if remove else client.add_users
    return [
        call(audience_id, chunk, session, seq, seq == len(chunks), len(rows))
        for seq, chunk in enumerate(chunks, start=1)
    ]


def users_url(meta, audience_id: str) -> str:
    return f"{meta.url}/{DEFAULT_API_VERSION}/{audience_id}/users"


def raw_add(meta, audience_id: str, data: list, schema: list[str] | None = None) -> requests.Response:
    """A /users call straight to the emulator, past the client's guards."""
    payload = {"schema": schema or ["EMAIL", "PHONE"], "data": data}
    return requests.post(
        users_url(meta, audience_id),
        data={"payload": json.dumps(payload), "access_token": ACCESS_TOKEN},
        timeout=30,
    )


def meta_error(resp: requests.Response) -> dict[str, Any]:
    return resp.json()["error"]


# -- the client against the emulator --------------------------------------------------------------------
def test_new_session_id_is_positive_63_bit() -> None:
    ids = {new_session_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(0 < i < 2**63 for i in ids)


def test_client_rejects_unhashed_rows_before_sending(meta, client: MetaAudienceClient, people) -> None:
    audience = client.ensure_audience("unhashed_guard", "rows must be hashed")
    before = requests.get(f"{meta.url}/_emulator/control", timeout=10).json()["user_batches_ok"]
    hashed = people[0]["row"]
    bad_rows = [
        [hashed, ("test@example.com", None)],  # a plain email
        [(None, "+16505551212")],  # a plain phone
        [(TEST_EXAMPLE_DIGEST.upper(), None)],  # not lowercase hex
        [(None, None)],  # nothing to match
        [],  # an empty batch
        [hashed] * 51,  # over batch_size
    ]
    for rows in bad_rows:
        with pytest.raises(ValueError):
            client.add_users(audience.id, rows, new_session_id(), 1, True, len(rows))
        with pytest.raises(ValueError):
            client.remove_users(audience.id, rows, new_session_id(), 1, True, len(rows))
    after = requests.get(f"{meta.url}/_emulator/control", timeout=10).json()["user_batches_ok"]
    assert after == before, "nothing may reach Meta"
    assert records(meta, audience.id)["upload_log"] == {}
    with pytest.raises(ValueError, match="10000"):
        MetaAudienceClient(client.graph, batch_size=MAX_USERS_PER_REQUEST + 1)


def test_ensure_audience_creates_once_then_reuses(meta, client: MetaAudienceClient) -> None:
    assert client.find_audience("win_back_reuse") is None
    first = client.ensure_audience("win_back_reuse", "High churn risk, high value")
    again = client.ensure_audience("win_back_reuse", "High churn risk, high value")
    assert first.created and not again.created
    assert again.id == first.id and again.name == "win_back_reuse"
    assert client.find_audience("win_back_reuse") == again
    listed = requests.get(f"{meta.url}/_emulator/audiences", timeout=10).json()["audiences"]
    assert [a for a, r in listed.items() if r["name"] == "win_back_reuse"] == [first.id]


def test_find_audience_follows_paging(meta, client: MetaAudienceClient) -> None:
    client.graph.page_size = 2  # the account has more audiences than one page by now
    names = [f"paged_{i}" for i in range(5)]
    created = {name: client.ensure_audience(name, "paging").id for name in names}
    assert client.find_audience("paged_4").id == created["paged_4"]


def test_add_in_three_batches_of_one_session(meta, client: MetaAudienceClient, people) -> None:
    chosen = people[:150]
    rows = [p["row"] for p in chosen]
    expected = {p["anchor"] for p in chosen if p["known"]}
    audience = client.ensure_audience("three_batches", "three batches of 50")
    results = upload(client, audience.id, rows)
    assert len(results) == 3
    assert [r.num_received for r in results] == [50, 50, 50]
    assert all(r.num_invalid_entries == 0 and r.audience_id == audience.id for r in results)
    assert len({r.session_id for r in results}) == 1
    record = records(meta, audience.id)
    assert set(record["members"]) == expected
    assert 0 < len(expected) < len(chosen)  # some customers are not on Meta
    assert record["sessions"][str(results[0].session_id)] == {"last_batch_seq": 3, "ended": True}
    assert client.size(audience.id) == AudienceSize(*bounds(len(expected)), "Normal")
    # each key went up exactly once
    assert all(count == 1 for count in record["upload_log"].values())
    assert set(record["upload_log"]) == {key for row in rows for key in row if key}
    # an audience is a set: the same people again (new session) do not grow it
    upload(client, audience.id, rows[:50])
    assert len(records(meta, audience.id)["members"]) == len(expected)


def test_sessions_must_be_in_order_and_end_with_the_last_batch(
    meta, client: MetaAudienceClient, people
) -> None:
    audience = client.ensure_audience("session_order", "batch_seq rules")
    rows = [p["row"] for p in people[:10]]
    session = new_session_id()
    with pytest.raises(AudienceSyncError, match=r"Meta error 100: \(#100\) batch_seq 2 is out of order"):
        client.add_users(audience.id, rows, session, 2, False, 20)
    client.add_users(audience.id, rows, session, 1, False, 20)
    client.add_users(audience.id, rows, session, 1, False, 20)  # a retry of the same batch is accepted
    with pytest.raises(AudienceSyncError, match="expected 2"):
        client.add_users(audience.id, rows, session, 3, False, 20)
    client.add_users(audience.id, rows, session, 2, True, 20)
    with pytest.raises(AudienceSyncError, match="already ended"):
        client.add_users(audience.id, rows, session, 3, False, 20)


def test_remove_users_shrinks_the_audience(meta, client: MetaAudienceClient, people) -> None:
    audience = client.ensure_audience("remove_some", "add all, remove a third")
    rows = [p["row"] for p in people]
    upload(client, audience.id, rows)
    everyone = {p["anchor"] for p in people if p["known"]}
    assert set(records(meta, audience.id)["members"]) == everyone
    gone = people[: len(people) // 3]
    results = upload(client, audience.id, [p["row"] for p in gone], remove=True)
    assert sum(r.num_received for r in results) == len(gone)
    remaining = everyone - {p["anchor"] for p in gone if p["known"]}
    record = records(meta, audience.id)
    assert set(record["members"]) == remaining and len(remaining) < len(everyone)
    assert client.size(audience.id).lower_bound == bounds(len(remaining))[0]
    # removal by phone alone finds the person too
    by_phone = next(p for p in people[len(people) // 3 :] if p["known"] and p["row"][1])
    client.remove_users(audience.id, [(None, by_phone["row"][1])], new_session_id(), 1, True, 1)
    assert set(records(meta, audience.id)["members"]) == remaining - {by_phone["anchor"]}


def test_emulator_refuses_over_10000_rows(meta, client: MetaAudienceClient, people) -> None:
    audience = client.ensure_audience("too_many", "over the per-call limit")
    resp = raw_add(meta, audience.id, [[people[0]["row"][0], ""]] * (MAX_USERS_PER_REQUEST + 1))
    assert resp.status_code == 400
    error = meta_error(resp)
    assert error["code"] == 100 and "10000" in error["message"]
    assert records(meta, audience.id)["upload_log"] == {}
    exactly = raw_add(meta, audience.id, [[people[0]["row"][0], ""]] * MAX_USERS_PER_REQUEST)
    assert exactly.status_code == 200 and exactly.json()["num_received"] == MAX_USERS_PER_REQUEST


def test_emulator_counts_unhashed_values_as_invalid_entries(meta, client: MetaAudienceClient, people) -> None:
    audience = client.ensure_audience("invalid_entries", "plain emails")
    hashed = [[p["row"][0] or "", p["row"][1] or ""] for p in people[:3]]
    plain = [["alice@example.com", ""], ["bob@example.com", "+16505551212"]]
    resp = raw_add(meta, audience.id, hashed + plain)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["num_received"] == 5 and body["num_invalid_entries"] == 2
    assert {"alice@example.com", "bob@example.com"} <= set(body["invalid_entry_samples"])
    expected = {p["anchor"] for p in people[:3] if p["known"]}
    assert set(records(meta, audience.id)["members"]) == expected

    all_plain = raw_add(meta, audience.id, plain)
    assert all_plain.status_code == 400
    assert meta_error(all_plain)["code"] == 100 and "not hashed" in meta_error(all_plain)["message"]


@pytest.mark.parametrize(
    ("schema", "data", "words"),
    [
        (["EMAIL", "PHONE"], [["a" * 64]], "has 1 values"),
        (["EMAIL", "SHOE_SIZE"], [["a" * 64, "b" * 64]], "Invalid schema key 'SHOE_SIZE'"),
        (["EMAIL"], [], "non-empty"),
    ],
)
def test_emulator_validates_the_payload(
    meta, client: MetaAudienceClient, schema: list[str], data: list, words: str
) -> None:
    audience = client.ensure_audience("payload_checks", "bad payloads")
    resp = raw_add(meta, audience.id, data, schema)
    assert resp.status_code == 400
    assert meta_error(resp)["code"] == 100 and words in meta_error(resp)["message"]


def test_emulator_validates_audience_creation(meta) -> None:
    url = f"{meta.url}/{DEFAULT_API_VERSION}/act_{meta.env['META_AD_ACCOUNT_ID']}/customaudiences"
    for params, words in (
        ({"subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}, "name is required"),
        ({"name": "x", "subtype": "CUSTOM"}, "customer_file_source is required"),
        ({"name": "x", "subtype": "CUSTOM", "customer_file_source": "MINE"}, "must be one of"),
    ):
        resp = requests.post(url, data={**params, "access_token": ACCESS_TOKEN}, timeout=10)
        assert resp.status_code == 400 and words in meta_error(resp)["message"], resp.text


def test_audience_throttle_80003_is_retried(meta, client: MetaAudienceClient, people) -> None:
    assert 80003 in THROTTLE_CODES  # throttling by code, even if Meta ever leaves out is_transient
    control(meta.url, throttle_audience_next=2)
    audience = client.ensure_audience("throttled", "80003 twice")
    state = requests.get(f"{meta.url}/_emulator/control", timeout=10).json()
    assert state["throttle_audience_next"] == 0, "both throttled answers were served"
    control(meta.url, throttle_audience_next=MAX_ATTEMPTS - 1)
    rows = [p["row"] for p in people[:5]]
    result = client.add_users(audience.id, rows, new_session_id(), 1, True, 5)
    assert result.num_received == 5
    assert all(count == 1 for count in records(meta, audience.id)["upload_log"].values())
    # past the retry budget: a precise error
    control(meta.url, throttle_audience_next=MAX_ATTEMPTS)
    with pytest.raises(AudienceSyncError, match="80003") as failed:
        client.size(audience.id)
    assert failed.value.attempts == MAX_ATTEMPTS and audience.id in str(failed.value)


def test_missing_ads_management_names_the_permission(meta, client: MetaAudienceClient, people) -> None:
    audience = client.ensure_audience("no_manage", "permission taken away")
    control(meta.url, permissions=["ads_read"])
    with pytest.raises(AudienceSyncError) as failed:
        client.add_users(audience.id, [people[0]["row"]], new_session_id(), 1, True, 1)
    error = failed.value
    assert isinstance(error, SourceAPIError)
    assert error.status == 403 and error.meta_code == 200 and error.attempts == 1
    assert "ads_management" in str(error) and audience.id in str(error) and "add_users" in str(error)
    with pytest.raises(AudienceSyncError, match="ads_management"):
        client.ensure_audience("no_manage_new", "cannot be created")
    assert client.size(audience.id).lower_bound == 0  # reading needs ads_read only


def test_failing_user_batches_name_the_audience_and_call(meta, client: MetaAudienceClient, people) -> None:
    audience = client.ensure_audience("failing_batches", "HTTP 500 after one batch")
    control(meta.url, fail_user_batches_after=1)
    session = new_session_id()
    client.add_users(audience.id, [p["row"] for p in people[:50]], session, 1, False, 100)
    with pytest.raises(AudienceSyncError) as failed:
        client.add_users(audience.id, [p["row"] for p in people[50:100]], session, 2, True, 100)
    error = failed.value
    assert error.status == 500 and error.attempts == MAX_ATTEMPTS and error.meta_code == 2
    message = str(error)
    assert audience.id in message and "add_users" in message and "batch 2" in message
    assert "An unexpected error has occurred" in message
    assert records(meta, audience.id)["sessions"][str(session)] == {"last_batch_seq": 1, "ended": False}
