"""`journey sources check ga4`: the key file reads, Google mints a token for it, the service account may
read the property, and the connector's own request is accepted (with the quota left).

Each step names variables and files, never their content: a key file holds a private key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC

from ingestion.common.checks import CheckFailed, SourceCheck, run_check
from ingestion.common.http import SourceAPIError
from ingestion.ga4.client import GA4QuotaExhausted, ServiceAccountAuth, explain, ga4_client
from ingestion.ga4.settings import GA4Settings
from ingestion.ga4.source import report_body, report_path


def check(env: Mapping[str, str] | None = None) -> SourceCheck:
    env = os.environ if env is None else env
    status = GA4Settings.status(env)
    if not status.configured:
        return run_check("ga4", [], False, status.reason)
    settings = GA4Settings.from_env(dict(env))
    property_id = settings.property_id.removeprefix("properties/")
    client = ga4_client(
        property_id,
        settings.api_url,
        access_token=settings.access_token,
        credentials_file=settings.credentials_file,
        credentials_variable=settings.credentials_variable,
        max_attempts=2,
        backoff=0.5,
        max_wait=5.0,
        timeout=30.0,
    )
    auth = client.auth if isinstance(client.auth, ServiceAccountAuth) else None
    path = report_path(property_id)

    def guarded(step: Callable[[], str]) -> Callable[[], str]:
        def run() -> str:
            try:
                return step()
            except SourceAPIError as exc:
                raise CheckFailed(str(explain(exc, client.auth, property_id))) from exc
            except GA4QuotaExhausted as exc:
                raise CheckFailed(str(exc)) from exc

        return run

    def credentials() -> str:
        if auth is None:
            return "fixed GA4_ACCESS_TOKEN (expires about an hour after it was minted; cannot be refreshed)"
        return f"service-account key file {auth.variable}={auth.path} for {auth.email}"  # reads the file

    def token() -> str:
        if auth is None:
            return "not minted here (a fixed token was given)"
        auth.headers()
        expiry = auth.credentials.expiry
        when = expiry.replace(tzinfo=UTC).strftime("%H:%M UTC") if expiry else "unknown"
        return f"access token minted for {auth.email} (scope analytics.readonly, expires {when})"

    def access() -> str:
        body = {"dateRanges": [{"startDate": "yesterday", "endDate": "today"}],
                "metrics": [{"name": "sessions"}], "limit": "1"}  # fmt: skip
        client.request_json("POST", path, json=body)
        return f"property {property_id} readable; Data API {path.split('/', 1)[0]}"

    def page() -> str:
        payload = client.request_json("POST", path, json=report_body("yesterday", "today", 0, 1))
        quota = payload.get("propertyQuota") or {}

        def left(name: str) -> str:
            status = quota.get(name)
            return f"{int(status.get('remaining', 0)):,}" if isinstance(status, dict) else "?"

        return (
            f"the connector's report request accepted ({int(payload.get('rowCount', 0)):,} rows since yesterday); "
            f"quota left: {left('tokensPerHour')} tokens this hour, {left('tokensPerDay')} today"
        )

    steps = [("credentials", credentials), ("token", token), ("property access", access), ("page", page)]
    return run_check("ga4", [(name, guarded(fn)) for name, fn in steps], True, status.reason)
