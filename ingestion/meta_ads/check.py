"""`journey sources check meta_ads`: does the configured token read the configured ad account with the
configured Graph API version, today?

Steps, each with the reason a person can act on: the token is valid (`/me`; Meta's error 190 otherwise),
the API version is still served (plain Graph calls to a retired version are answered by the oldest one
and say so in `facebook-api-version`, Marketing API calls fail with error 2635), the token has
`ads_read` (`/me/permissions`), the ad account is readable (`act_<id>?fields=name,account_status,
currency`), and one page of insights loads with the connector's own request. Details name variables,
never their values.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from ingestion.common.checks import CheckFailed, SourceCheck, run_check
from ingestion.common.http import SourceAPIError
from ingestion.meta_ads.client import MetaGraphClient, MetaVersionError
from ingestion.meta_ads.settings import DEFAULT_API_VERSION, MetaAdsSettings

VERSION_RE = re.compile(r"^v\d+\.0$")
READ_PERMISSIONS = ("ads_read", "ads_management")  # either one reads ads and insights
# AdAccount.account_status (Marketing API reference)
ACCOUNT_STATUS = {
    1: "ACTIVE", 2: "DISABLED", 3: "UNSETTLED", 7: "PENDING_RISK_REVIEW", 8: "PENDING_SETTLEMENT",
    9: "IN_GRACE_PERIOD", 100: "PENDING_CLOSURE", 101: "CLOSED", 201: "ANY_ACTIVE", 202: "ANY_CLOSED",
}  # fmt: skip


def meta_error(exc: SourceAPIError) -> tuple[int | None, str]:
    """(code, message) of the Graph API error in a failed call's message, when it carries one."""
    text = str(exc)
    start = text.find('{"error"')
    if start >= 0:
        try:
            error, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            error = None
        if isinstance(error, dict) and isinstance(error.get("error"), dict):
            return error["error"].get("code"), str(error["error"].get("message", ""))
    return None, text


def check(env: Mapping[str, str] | None = None) -> SourceCheck:
    env = os.environ if env is None else env
    status = MetaAdsSettings.status(env)
    if not status.configured:
        return run_check("meta_ads", [], False, status.reason)
    # one attempt per call and short waits: a check answers now, it does not ride out an outage
    settings = MetaAdsSettings.from_env(dict(env), max_attempts=2, backoff=0.5, max_wait=5.0, timeout=30.0)
    client = MetaGraphClient(
        api_url=settings.api_url,
        api_version=settings.api_version,
        access_token=settings.access_token,
        ad_account_id=settings.ad_account_id,
        page_size=1,
        max_attempts=settings.max_attempts,
        backoff=settings.backoff,
        max_wait=settings.max_wait,
        timeout=settings.timeout,
    )
    served: dict[str, str | None] = {}

    def explain(exc: SourceAPIError, doing: str) -> CheckFailed:
        code, message = meta_error(exc)
        if isinstance(exc, MetaVersionError):
            return CheckFailed(exc.reason)
        if code == 190:
            return CheckFailed(
                f"META_ACCESS_TOKEN is not valid (Meta error 190: {message}); create a new system-user "
                "token in Business Settings (docs/sources.md#meta-ads)"
            )
        if code == 2635:
            return CheckFailed(
                f"META_API_VERSION={settings.api_version} is no longer served (Meta error 2635: {message}); "
                f"set META_API_VERSION to a supported version or unset it (default {DEFAULT_API_VERSION})"
            )
        if code == 200:
            return CheckFailed(
                f"the token may not {doing} (Meta error 200: {message}); grant the system user ads_read "
                "and assign it the ad account"
            )
        if code == 100 and "does not exist" in message:
            return CheckFailed(
                f"META_AD_ACCOUNT_ID={client.account} cannot be read with this token ({message}); check the "
                "id and assign the ad account to the system user (Business Settings > System users > "
                "Assign assets)"
            )
        return CheckFailed(f"could not {doing}: {exc}")

    def token() -> str:
        try:
            me = client.get("me", fields="id,name")
        except SourceAPIError as exc:
            raise explain(exc, "read /me") from exc
        served["version"] = client.served_version()
        return f"valid (user {me.get('name') or me.get('id')})"

    def version() -> str:
        if not VERSION_RE.match(settings.api_version):
            raise CheckFailed(
                f"META_API_VERSION={settings.api_version} is not a Graph API version (expected e.g. "
                f"{DEFAULT_API_VERSION})"
            )
        got = served.get("version")
        if got and got != settings.api_version:
            raise CheckFailed(
                f"META_API_VERSION={settings.api_version} is no longer served: Meta answered with {got}, "
                "and Marketing API calls with a retired version fail (error 2635); set META_API_VERSION to "
                f"a supported version or unset it (default {DEFAULT_API_VERSION})"
            )
        return f"{settings.api_version} served" + ("" if got else " (Meta did not name the served version)")

    def permissions() -> str:
        try:
            payload = client.get("me", "permissions")
        except SourceAPIError as exc:
            raise explain(exc, "list its permissions") from exc
        granted = {p.get("permission") for p in payload.get("data", []) if p.get("status") == "granted"}
        have = [p for p in READ_PERMISSIONS if p in granted]
        if not have:
            raise CheckFailed(
                "the token lacks ads_read (granted: "
                f"{', '.join(sorted(p for p in granted if p)) or 'none'}); generate the system-user token "
                "with ads_read"
            )
        return f"{', '.join(have)} granted"

    def account() -> str:
        try:
            acct = client.get(client.account, fields="name,account_status,currency")
        except SourceAPIError as exc:
            raise explain(exc, f"read ad account {client.account}") from exc
        state = ACCOUNT_STATUS.get(acct.get("account_status"), str(acct.get("account_status")))
        return f"{client.account} {acct.get('name')!r} readable ({state}, {acct.get('currency')})"

    def one_page() -> str:
        day = datetime.now(UTC).date() - timedelta(days=1)
        try:
            page = next(client.insights(day, day, use_async=False))
        except SourceAPIError as exc:
            raise explain(exc, "read insights") from exc
        return f"insights for {day} answered ({len(page)} row(s) on the first page)"

    steps = [
        ("token", token),
        ("api version", version),
        ("permissions", permissions),
        ("ad account", account),
        ("one page", one_page),
    ]
    return run_check("meta_ads", steps, True, status.reason)
