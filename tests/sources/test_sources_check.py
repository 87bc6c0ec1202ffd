"""Tier 2: `journey sources check` against the running emulators, as a brand runs it on day one (and
as `journey demo` runs it before the nightly job): every configured source OK; a bad secret names the
source and the reason, and no secret reaches the output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ingestion.sandbox.emulators import running_emulators
from orchestration.cli import main

CLEARED = (
    "SHOPIFY_ACCESS_TOKEN", "GA4_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "ORDER_HISTORY_PATH",
    "EVENTS_LANDING_DIR",
)  # fmt: skip


@pytest.fixture(scope="module")
def emulators(tiny_world: Path):
    with running_emulators(tiny_world) as env:
        yield env


@pytest.fixture
def sandbox_env(emulators, monkeypatch, local_dir):
    for var in CLEARED:
        monkeypatch.delenv(var, raising=False)
    for var, value in emulators.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("JOURNEY_SANDBOX_SIZE", "tiny")  # the tiny shop's landing dir configures events
    return emulators


def verdicts(output: str) -> dict[str, str]:
    """source -> OK / FAILED / SKIPPED, from the verdict lines (step lines are indented)."""
    names = {"shopify", "order_history", "meta_ads", "google_ads", "ga4", "events"}
    words = [line.split() for line in output.splitlines() if line and not line[0].isspace()]
    return {w[0]: w[1] for w in words if w[0] in names}


def check(*names: str):
    return CliRunner().invoke(main, ["sources", "check", *names])


def test_every_configured_source_is_ok_against_the_emulators(sandbox_env):
    result = check()
    assert result.exit_code == 0, result.output
    assert verdicts(result.output) == {
        "shopify": "OK", "order_history": "SKIPPED", "meta_ads": "OK", "google_ads": "OK", "ga4": "OK",
        "events": "OK",
    }  # fmt: skip
    assert "5 configured source(s) OK" in result.output
    for var, value in sandbox_env.items():
        if any(word in var for word in ("SECRET", "TOKEN")):
            assert value not in result.output, var


def test_a_bad_shopify_secret_names_the_source_and_reason(sandbox_env, monkeypatch):
    monkeypatch.setenv("SHOPIFY_CLIENT_SECRET", "shpss_not-the-right-one")
    result = check()
    assert result.exit_code == 1, result.output
    assert verdicts(result.output)["shopify"] == "FAILED"
    assert {k: v for k, v in verdicts(result.output).items() if k != "shopify"} == {
        "order_history": "SKIPPED", "meta_ads": "OK", "google_ads": "OK", "ga4": "OK", "events": "OK",
    }  # fmt: skip
    assert "invalid_client" in result.output
    assert "1 source(s) failed: shopify" in result.output
    assert "shpss_not-the-right-one" not in result.output
    assert sandbox_env["SHOPIFY_CLIENT_SECRET"] not in result.output


def test_a_bad_meta_token_names_the_source_and_reason(sandbox_env, monkeypatch):
    monkeypatch.setenv("META_ACCESS_TOKEN", "EAAB-revoked-token")
    result = check("meta_ads")
    assert result.exit_code == 1, result.output
    assert verdicts(result.output) == {"meta_ads": "FAILED"}
    assert "190" in result.output  # Meta's code for an invalid OAuth access token
    assert "EAAB-revoked-token" not in result.output


def test_a_ga4_key_the_token_endpoint_does_not_know_names_the_reason(sandbox_env, monkeypatch, tmp_path):
    key = json.loads(Path(sandbox_env["GA4_CREDENTIALS_FILE"]).read_text())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key["private_key"] = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    forged = tmp_path / "forged-key.json"
    forged.write_text(json.dumps(key))
    monkeypatch.setenv("GA4_CREDENTIALS_FILE", str(forged))
    result = check("ga4")
    assert result.exit_code == 1, result.output
    assert verdicts(result.output) == {"ga4": "FAILED"}
    assert "PRIVATE KEY" not in result.output and key["private_key_id"] not in result.output
