"""No secret in any log line: vendor loads with retries, expiring credentials and a final failure,
captured at DEBUG level (the client secret, the service-account key, the tokens minted from them)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from ingestion.common.http import SourceAPIError
from ingestion.ga4 import GA4Settings, ga4_pipeline, run_ga4_pipeline
from ingestion.google_ads import GoogleAdsSettings, google_ads_pipeline, run_google_ads_pipeline
from ingestion.meta_ads import MetaAdsSettings, meta_pipeline, run_meta_pipeline
from ingestion.shopify import ShopifySettings, run_shopify_pipeline, shopify_pipeline
from tests.sources._meta_ga4_fixtures import FAST_HTTP, control, emulator, reset_dataset

# what the emulators mint: Shopify's `shpat_<hex>` tokens, Google's `ya29.` tokens
MINTED = re.compile(r"shpat_[0-9a-f]{32}|ya29\.[A-Za-z0-9_.-]+")


def leaks(caplog, secrets: list[str]) -> list[str]:
    messages = [record.getMessage() for record in caplog.records]
    assert any("retrying" in m for m in messages), "the retries should have been logged"
    return [m for m in messages if MINTED.search(m) or any(secret in m for secret in secrets)]


def test_access_token_never_logged(tiny_world: Path, warehouse, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3/requests/dlt debug lines included
    with emulator("meta", tiny_world) as (_url, env, faults):
        token = env["META_ACCESS_TOKEN"]
        assert len(token) >= 8
        reset_dataset(warehouse, "meta_ads", "meta_secrets_probe")
        settings = MetaAdsSettings.from_env(env, poll_interval=0.01, **{**FAST_HTTP, "max_attempts": 3})
        faults.plan("503", times=2)  # retried and logged, then recovered
        run_meta_pipeline(settings, pipeline=meta_pipeline(pipeline_name="meta_secrets_probe"))
        faults.plan("500", times=50)  # exhausted: the error text is logged too
        with pytest.raises(Exception) as excinfo:
            run_meta_pipeline(settings, pipeline=meta_pipeline(pipeline_name="meta_secrets_probe"))
    messages = [record.getMessage() for record in caplog.records]
    assert any("retrying" in m for m in messages), "the retries should have been logged"
    leaked = [m for m in messages if token in m]
    assert not leaked, f"token found in {len(leaked)} log line(s), e.g. {leaked[0][:200]}"
    chain, error = [], excinfo.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, SourceAPIError) for e in chain)
    assert all(token not in str(e) for e in chain)
    reset_dataset(warehouse, "meta_ads", "meta_secrets_probe")


def test_client_secret_and_minted_tokens_never_logged(tiny_world: Path, warehouse, caplog):
    caplog.set_level(logging.DEBUG)
    with emulator("shopify", tiny_world) as (url, env, faults):
        secret = env["SHOPIFY_CLIENT_SECRET"]
        reset_dataset(warehouse, "shopify", "shopify_secrets_probe")
        settings = ShopifySettings.from_env(env, **{**FAST_HTTP, "max_attempts": 3})
        control(url, expire_after_requests=3)  # a token re-minted mid-load
        faults.plan("503", times=2)
        run_shopify_pipeline(settings, pipeline=shopify_pipeline(pipeline_name="shopify_secrets_probe"))
        control(url, expire_after_requests=None)
    leaked = leaks(caplog, [secret])
    assert not leaked, f"a secret or token in {len(leaked)} log line(s), e.g. {leaked[0][:200]}"
    assert sum("minted an access token" in r.getMessage() for r in caplog.records) >= 2  # one mid-load
    reset_dataset(warehouse, "shopify", "shopify_secrets_probe")


def test_service_account_key_and_tokens_never_logged(tiny_world: Path, warehouse, caplog):
    caplog.set_level(logging.DEBUG)
    with emulator("ga4", tiny_world) as (url, env, faults):
        key = json.loads(Path(env["GA4_CREDENTIALS_FILE"]).read_text())
        key_lines = [line for line in key["private_key"].splitlines() if "PRIVATE KEY" not in line and line]
        reset_dataset(warehouse, "ga4", "ga4_secrets_probe")
        settings = GA4Settings.from_env(env, page_size=50, **{**FAST_HTTP, "max_attempts": 3})
        control(url, expire_tokens_after=2)
        faults.plan("503", times=2, path_contains=":runReport")  # the Data API's, not the token endpoint's
        run_ga4_pipeline(settings, pipeline=ga4_pipeline(pipeline_name="ga4_secrets_probe"))
        control(url, reset=True)
    leaked = leaks(caplog, [key["private_key_id"], *key_lines])
    assert not leaked, f"key material or a token in {len(leaked)} log line(s), e.g. {leaked[0][:200]}"
    assert sum("minted an access token" in r.getMessage() for r in caplog.records) >= 2  # one mid-load
    reset_dataset(warehouse, "ga4", "ga4_secrets_probe")


def test_google_ads_refresh_token_client_secret_and_minted_tokens_never_logged(
    tiny_world: Path, warehouse, caplog
):
    caplog.set_level(logging.DEBUG)
    with emulator("google_ads", tiny_world) as (url, env, faults):
        secrets = [env["GOOGLE_ADS_CLIENT_SECRET"], env["GOOGLE_ADS_REFRESH_TOKEN"]]
        reset_dataset(warehouse, "google_ads", "google_ads_secrets_probe")
        settings = GoogleAdsSettings.from_env(env, **{**FAST_HTTP, "max_attempts": 3})
        control(url, expire_tokens_after_calls=2)  # a token re-minted mid-load (401, then refresh)
        faults.plan("503", times=2, path_contains="searchStream")
        run_google_ads_pipeline(
            settings, pipeline=google_ads_pipeline(pipeline_name="google_ads_secrets_probe")
        )
        faults.plan("500", times=50, path_contains="searchStream")
        with pytest.raises(Exception) as excinfo:
            run_google_ads_pipeline(
                settings, pipeline=google_ads_pipeline(pipeline_name="google_ads_secrets_probe")
            )
    leaked = leaks(caplog, secrets)
    assert not leaked, f"{len(leaked)} log line(s) carry a secret or a minted token, e.g. {leaked[0][:200]}"
    error, seen = excinfo.value, set()
    while error is not None and id(error) not in seen:  # cause/context chains can loop
        seen.add(id(error))
        assert not any(secret in str(error) for secret in secrets) and not MINTED.search(str(error))
        error = error.__cause__ or error.__context__
    assert len(seen) >= 2
    reset_dataset(warehouse, "google_ads", "google_ads_secrets_probe")
