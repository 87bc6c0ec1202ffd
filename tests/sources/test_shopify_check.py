"""Tier 2: `journey sources check shopify` against the emulator.

OK with the emulator's Dev Dashboard app (and with a legacy static token); FAILED at the right step,
with the reason a person can act on and no secret, for a wrong client secret, a wrong static token, a
missing access scope, and an API version Shopify no longer supports; SKIPPED with what to set when
not configured; the CLI prints the verdict and exits non-zero on a failure.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from ingestion.sandbox.emulators.shopify import ACCESS_TOKEN, SCOPES, SUPPORTED_VERSIONS, TOKEN_TTL
from ingestion.shopify.check import check, required_scopes
from ingestion.shopify.settings import DEFAULT_API_VERSION
from orchestration.cli import main
from tests.sources._meta_ga4_fixtures import control, emulator

WRONG_SECRET = "shpss_wrong_1111111111111111"


@pytest.fixture(scope="module")
def shop(tiny_world: Path):
    with emulator("shopify", tiny_world) as (url, env, faults):
        yield SimpleNamespace(url=url, env=env, faults=faults)


@pytest.fixture
def fresh(shop):
    control(shop.url, token_ttl=TOKEN_TTL, expire_after_requests=None, scopes=list(SCOPES),
            legacy_token=ACCESS_TOKEN, as_of=None)  # fmt: skip
    shop.faults.clear()
    return shop


def _secrets(shop) -> list[str]:
    return [shop.env["SHOPIFY_CLIENT_SECRET"], WRONG_SECRET, ACCESS_TOKEN]


def test_check_passes_against_the_emulator(fresh):
    result = check(fresh.env)
    assert result.verdict == "OK", result.summary()
    assert [s.name for s in result.steps] == ["authenticate", "scopes", "API version", "one page"]
    steps = {s.name: s.detail for s in result.steps}
    assert steps["authenticate"].startswith(
        "token minted by the client-credentials grant (expires in 24.0 h)"
    )
    assert "SHOPIFY_CLIENT_ID/SHOPIFY_CLIENT_SECRET" in steps["authenticate"]
    assert steps["scopes"] == "read_orders, read_customers, read_products, read_all_orders granted"
    assert steps["API version"] == f"{DEFAULT_API_VERSION} served as asked"
    assert steps["one page"] == "first page of each feed read (1 orders, 1 customers, 1 products)"
    assert "client-credentials grant" in result.reason and "SHOPIFY_CLIENT_SECRET" in result.reason
    minted = [r for r in fresh.faults.requests if r.path == "/admin/oauth/access_token"]
    assert len(minted) == 1
    assert not any(secret in result.summary() + result.reason for secret in _secrets(fresh))


def test_check_passes_with_a_legacy_static_token(fresh):
    result = check({"SHOPIFY_API_URL": fresh.url, "SHOPIFY_ACCESS_TOKEN": ACCESS_TOKEN})
    assert result.verdict == "OK", result.summary()
    assert "static Admin API token (legacy custom app) (SHOPIFY_ACCESS_TOKEN)" in result.steps[0].detail
    assert ACCESS_TOKEN not in result.summary()


def test_a_wrong_client_secret_fails_authenticate_with_shopifys_reason(fresh):
    result = check({**fresh.env, "SHOPIFY_CLIENT_SECRET": WRONG_SECRET})
    assert result.verdict == "FAILED"
    assert [(s.name, s.ok) for s in result.steps] == [("authenticate", False)]
    detail = result.steps[0].detail
    assert "HTTP 401" in detail and "invalid_client" in detail
    assert "check SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET" in detail
    assert not any(secret in result.summary() for secret in _secrets(fresh))


def test_a_wrong_static_token_fails_authenticate(fresh):
    result = check({"SHOPIFY_API_URL": fresh.url, "SHOPIFY_ACCESS_TOKEN": "shpat_revoked"})
    assert result.verdict == "FAILED"
    assert result.summary().startswith("authenticate: the shop rejected the token from SHOPIFY_ACCESS_TOKEN")
    assert "shpat_revoked" not in result.summary()


def test_a_missing_scope_is_named(fresh):
    control(fresh.url, scopes=["read_orders", "read_products"])
    result = check(fresh.env)
    assert result.verdict == "FAILED"
    assert result.summary().startswith(
        "scopes: missing access scope(s) read_customers, read_all_orders (read_all_orders: "
        "SHOPIFY_START_DATE is more than 60 days ago): add them to the app's version in the Dev Dashboard"
    )
    recent = check({**fresh.env, "SHOPIFY_START_DATE": "2999-01-01"})  # a backfill within 60 days
    assert "missing access scope(s) read_customers:" in recent.summary()


def test_an_unsupported_api_version_fails_with_what_to_set(fresh):
    result = check({**fresh.env, "SHOPIFY_API_VERSION": "2025-01"})
    assert result.verdict == "FAILED"
    assert [s.name for s in result.steps if s.ok] == ["authenticate", "scopes"]
    assert result.summary() == (
        f"API version: SHOPIFY_API_VERSION=2025-01 is not supported by Shopify any more: it serves "
        f"{SUPPORTED_VERSIONS[0]} instead; set SHOPIFY_API_VERSION={DEFAULT_API_VERSION} (the version the "
        "connector's queries are validated against) or unset it"
    )
    older = check({**fresh.env, "SHOPIFY_API_VERSION": SUPPORTED_VERSIONS[0]})  # still supported: OK
    assert older.verdict == "OK" and "validated against" in older.steps[2].detail


def test_not_configured_is_skipped_with_what_to_set():
    result = check({})
    assert result.verdict == "SKIPPED"
    assert result.reason == (
        "set SHOPIFY_API_URL, SHOPIFY_CLIENT_ID, SHOPIFY_CLIENT_SECRET (a Dev Dashboard app), or "
        "SHOPIFY_ACCESS_TOKEN (a legacy custom app)"
    )
    half = check({"SHOPIFY_API_URL": "https://brand.myshopify.com", "SHOPIFY_CLIENT_ID": "x"})
    assert half.verdict == "SKIPPED" and half.reason == "set SHOPIFY_CLIENT_SECRET"


def test_required_scopes_follow_the_start_date():
    from datetime import date

    assert required_scopes("2026-11-01", today=date(2026, 12, 1)) == [
        "read_orders", "read_customers", "read_products",
    ]  # fmt: skip
    assert required_scopes("2026-09-01", today=date(2026, 12, 1))[-1] == "read_all_orders"


def test_cli_prints_the_verdict_and_exits_non_zero_on_failure(fresh, monkeypatch):
    for var in ("SHOPIFY_ACCESS_TOKEN", "SHOPIFY_API_VERSION", "SHOPIFY_START_DATE"):
        monkeypatch.delenv(var, raising=False)
    for var, value in fresh.env.items():
        monkeypatch.setenv(var, value)
    ok = CliRunner().invoke(main, ["sources", "check", "shopify"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("shopify  OK")
    monkeypatch.setenv("SHOPIFY_CLIENT_SECRET", WRONG_SECRET)
    bad = CliRunner().invoke(main, ["sources", "check", "shopify"])
    assert bad.exit_code == 1, bad.output
    assert bad.output.split()[:3] == ["shopify", "FAILED", "authenticate:"] and "invalid_client" in bad.output
    assert "1 source(s) failed: shopify" in bad.output
    assert not any(secret in ok.output + bad.output for secret in _secrets(fresh))
