"""Tier 1: which sources are configured, and why — from the environment only, as `journey sources` and
the Dagster assets of an unconfigured source report it; secrets never shown."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ingestion.sources import SOURCES, configured, dbt_sources_env, statuses
from orchestration.cli import main

SHOP = {"SHOPIFY_API_URL": "https://brand.myshopify.com", "SHOPIFY_ACCESS_TOKEN": "shpat_secret"}


def test_nothing_set_means_nothing_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEY_LOCAL_DIR", str(tmp_path))  # no sandbox landing dir here
    found = statuses({})
    assert [s.source for s in found] == [s.name for s in SOURCES]
    assert not any(s.configured for s in found)
    reasons = {s.source: s.reason for s in found}
    assert reasons["shopify"] == (
        "set SHOPIFY_API_URL, SHOPIFY_CLIENT_ID, SHOPIFY_CLIENT_SECRET (a Dev Dashboard app), "
        "or SHOPIFY_ACCESS_TOKEN (a legacy custom app)"
    )
    assert reasons["meta_ads"] == "set META_ACCESS_TOKEN, META_AD_ACCOUNT_ID"
    assert reasons["google_ads"] == (
        "set GOOGLE_ADS_CUSTOMER_ID, GOOGLE_ADS_CLIENT_ID, GOOGLE_ADS_CLIENT_SECRET, GOOGLE_ADS_REFRESH_TOKEN"
    )
    assert reasons["ga4"] == (
        "set GA4_PROPERTY_ID, GA4_CREDENTIALS_FILE (a service-account key file; or "
        "GOOGLE_APPLICATION_CREDENTIALS, or a fixed GA4_ACCESS_TOKEN)"
    )
    assert reasons["order_history"].startswith("set ORDER_HISTORY_PATH")
    assert reasons["events"].startswith("set EVENTS_LANDING_DIR")


def test_each_source_by_its_own_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEY_LOCAL_DIR", str(tmp_path))
    assert configured(SHOP) == ["shopify"]
    assert configured({"SHOPIFY_API_URL": "https://brand.myshopify.com"}) == []  # a token is needed too
    assert configured({"ORDER_HISTORY_PATH": str(tmp_path)}) == ["order_history"]
    assert configured({"META_ACCESS_TOKEN": "t", "META_AD_ACCOUNT_ID": "act_1"}) == ["meta_ads"]
    assert configured({"GA4_PROPERTY_ID": "1", "GA4_ACCESS_TOKEN": "t"}) == ["ga4"]
    assert configured({"EVENTS_LANDING_DIR": str(tmp_path / "landing")}) == ["events"]
    assert dbt_sources_env({**SHOP, "EVENTS_LANDING_DIR": "x"}) == {
        "JOURNEY_CONFIGURED_SOURCES": "shopify,events"
    }


def test_sandbox_landing_dir_configures_events(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEY_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("EVENTS_LANDING_DIR", str(tmp_path / "elsewhere"))  # not in the env asked about
    sandbox = {"JOURNEY_SANDBOX_SIZE": "tiny"}
    assert configured(sandbox) == []
    (tmp_path / "sandbox" / "tiny" / "landing" / "events").mkdir(parents=True)
    assert configured(sandbox) == ["events"]
    assert configured({}) == []  # the default size (small) has no landing dir here


def test_cli_prints_each_source_without_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEY_LOCAL_DIR", str(tmp_path))
    for var in ("META_ACCESS_TOKEN", "META_AD_ACCOUNT_ID", "GA4_PROPERTY_ID", "GA4_ACCESS_TOKEN",
                "EVENTS_LANDING_DIR", "ORDER_HISTORY_PATH"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    for var, value in SHOP.items():
        monkeypatch.setenv(var, value)
    result = CliRunner().invoke(main, ["sources"])
    assert result.exit_code == 0, result.output
    lines = {
        line.split()[0]: line
        for line in result.output.splitlines()
        if line and line.split()[0] in {s.name for s in SOURCES}
    }
    assert set(lines) == {s.name for s in SOURCES}
    assert "  configured" in lines["shopify"] and "https://brand.myshopify.com" in lines["shopify"]
    assert "not configured" in lines["meta_ads"] and "set META_ACCESS_TOKEN" in lines["meta_ads"]
    assert "shpat_secret" not in result.output


def test_nightly_refuses_a_run_date_outside_the_partitions():
    """`journey nightly --partition` before INSIGHTS_START_DATE: a clear error, before anything runs."""
    from ingestion.warehouse import WarehouseSettings
    from orchestration.demo import run_nightly

    with pytest.raises(ValueError, match=r"no insights partition 1999-01-01: .*\(INSIGHTS_START_DATE\)"):
        run_nightly(WarehouseSettings(), "1999-01-01")


NO_VENDORS = (
    "SHOPIFY_API_URL", "SHOPIFY_ACCESS_TOKEN", "SHOPIFY_CLIENT_ID", "SHOPIFY_CLIENT_SECRET",
    "META_ACCESS_TOKEN", "META_AD_ACCOUNT_ID", "GA4_PROPERTY_ID", "GA4_ACCESS_TOKEN",
    "GA4_CREDENTIALS_FILE", "GOOGLE_APPLICATION_CREDENTIALS", "EVENTS_LANDING_DIR", "ORDER_HISTORY_PATH",
    "GOOGLE_ADS_CUSTOMER_ID", "GOOGLE_ADS_CLIENT_ID", "GOOGLE_ADS_CLIENT_SECRET", "GOOGLE_ADS_REFRESH_TOKEN",
)  # fmt: skip


def test_sources_check_verdicts_and_exit_code(tmp_path, monkeypatch):
    """`journey sources check`: unconfigured sources are skipped, a valid export and a landing dir pass
    (exit 0); a malformed export fails naming file and line (exit 1); an unknown name is a usage error."""
    monkeypatch.setenv("JOURNEY_LOCAL_DIR", str(tmp_path))
    for var in NO_VENDORS:
        monkeypatch.delenv(var, raising=False)
    export = tmp_path / "orders.csv"
    export.write_text("order_id,customer_id,ordered_at,amount\nA1,c1,2024-03-01T10:00:00Z,19.90\n")
    (tmp_path / "landing").mkdir()
    monkeypatch.setenv("ORDER_HISTORY_PATH", str(export))
    monkeypatch.setenv("EVENTS_LANDING_DIR", str(tmp_path / "landing"))

    result = CliRunner().invoke(main, ["sources", "check"])
    assert result.exit_code == 0, result.output
    verdicts = {line.split()[0]: line.split()[1] for line in result.output.splitlines() if line[:1].isalpha()}
    assert {k: v for k, v in verdicts.items() if k in {s.name for s in SOURCES}} == {
        "shopify": "SKIPPED", "order_history": "OK", "meta_ads": "SKIPPED", "google_ads": "SKIPPED",
        "ga4": "SKIPPED", "events": "OK",
    }  # fmt: skip
    assert "1 orders, 0 line items valid" in result.output
    assert "2 configured source(s) OK" in result.output

    export.write_text("order_id,customer_id,ordered_at,amount\nA1,c1,not-a-date,19.90\n")
    result = CliRunner().invoke(main, ["sources", "check", "order_history"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("order_history  FAILED")
    assert f"{export}:2" in result.output
    assert "1 source(s) failed: order_history" in result.output

    result = CliRunner().invoke(main, ["sources", "check", "hubspot"])
    assert result.exit_code == 2 and "unknown source(s) hubspot" in result.output
