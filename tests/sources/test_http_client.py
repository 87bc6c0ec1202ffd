"""Tier 1: the shared HTTP client's handling of expiring credentials (`Auth`), over real HTTP to a
local server that accepts only the token it issued last."""

from __future__ import annotations

import itertools
import logging

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingestion.common.http import ApiClient, SourceAPIError
from ingestion.common.notices import collect_notices, notice
from ingestion.sandbox.emulators.server import BackgroundServer


class Vendor:
    """Issues numbered tokens; only the newest is valid, unless `reject_all`."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)
        self.current = ""
        self.reject_all = False
        self.seen: list[str] = []

    def mint(self) -> str:
        self.current = f"token-{next(self.counter)}"
        return self.current

    async def data(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.seen.append(token)
        if self.reject_all or token != self.current:
            return JSONResponse({"error": "invalid token"}, status_code=401)
        return JSONResponse({"ok": True, "token": token}, headers={"X-Served": "yes"})


class MintingAuth:
    def __init__(self, vendor: Vendor) -> None:
        self.vendor = vendor
        self.token: str | None = None
        self.refreshes = 0

    def headers(self) -> dict[str, str]:
        if self.token is None:
            self.token = self.vendor.mint()
        return {"Authorization": f"Bearer {self.token}"}

    def refresh(self) -> None:
        self.refreshes += 1
        self.token = None


@pytest.fixture
def vendor():
    vendor = Vendor()
    app = Starlette(routes=[Route("/data", vendor.data)])
    with BackgroundServer(app) as server:
        vendor.url = server.url
        yield vendor


def client(vendor: Vendor, auth=None) -> ApiClient:
    return ApiClient(source="vendor", base_url=vendor.url, auth=auth, sleep=lambda s: None, max_attempts=3)


def test_a_token_revoked_between_requests_is_refreshed_once(vendor):
    auth = MintingAuth(vendor)
    api = client(vendor, auth)
    assert api.request_json("GET", "data")["token"] == "token-1"
    vendor.current = "rotated-elsewhere"  # the vendor no longer accepts token-1
    assert api.request_json("GET", "data")["token"] == "token-2"
    assert auth.refreshes == 1
    assert vendor.seen == ["token-1", "token-1", "token-2"]
    assert api.last_response is not None and api.last_response.headers["X-Served"] == "yes"


def test_a_second_401_after_refreshing_is_reported_not_retried(vendor):
    auth = MintingAuth(vendor)
    vendor.reject_all = True
    with pytest.raises(SourceAPIError) as failure:
        client(vendor, auth).request_json("GET", "data")
    assert failure.value.status == 401
    assert auth.refreshes == 1
    assert len(vendor.seen) == 2  # the first try and one try with the new token; no backoff loop
    assert "vendor: GET" in str(failure.value) and "HTTP 401" in str(failure.value)


def test_without_auth_a_401_fails_at_once(vendor):
    vendor.mint()  # a token this client does not have
    with pytest.raises(SourceAPIError) as failure:
        client(vendor).request_json("GET", "data")
    assert failure.value.status == 401
    assert len(vendor.seen) == 1


def test_notices_are_logged_always_and_collected_once_inside_a_collection(caplog):
    caplog.set_level(logging.WARNING, logger="ingestion.common.notices")
    notice("vendor", "outside", "no collector here")
    with collect_notices() as notices:
        notice(
            "vendor",
            "api_version_mismatch",
            "served 2026-01, asked 2025-01",
            table="orders",
            served="2026-01",
        )
        notice("vendor", "api_version_mismatch", "served 2026-01, asked 2025-01", table="orders")
    notice("vendor", "after", "not collected")
    assert [(n.code, n.table, n.facts) for n in notices] == [
        ("api_version_mismatch", "orders", {"served": "2026-01"})
    ]
    assert [r.getMessage() for r in caplog.records] == [
        "vendor: no collector here",
        "vendor: served 2026-01, asked 2025-01",
        "vendor: not collected",
    ]


def test_a_fatal_response_raises_its_own_error_without_retrying(vendor):
    class Spent(RuntimeError):
        pass

    vendor.mint()
    api = ApiClient(
        source="vendor", base_url=vendor.url, sleep=lambda s: None, max_attempts=5,
        fatal=lambda response: Spent("daily quota spent") if response.status_code == 401 else None,
    )  # fmt: skip
    with pytest.raises(Spent, match="daily quota spent"):
        api.request_json("GET", "data")
    assert len(vendor.seen) == 1


def test_the_error_keeps_the_vendors_answer(vendor):
    vendor.mint()
    with pytest.raises(SourceAPIError) as failure:
        client(vendor).request_json("GET", "data")
    assert failure.value.detail == '{"error":"invalid token"}'
