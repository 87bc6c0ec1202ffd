"""No secret in any log line: a vendor load with retries and a final failure, captured at DEBUG level."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingestion.common.http import SourceAPIError
from ingestion.meta_ads import MetaAdsSettings, meta_pipeline, run_meta_pipeline
from tests.sources._meta_ga4_fixtures import FAST_HTTP, emulator, reset_dataset


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
