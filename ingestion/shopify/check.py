"""`journey sources check shopify`: do these credentials load this shop today?

Steps, each with the reason a person can act on (variables are named, values never shown):
1. authenticate: mint a token by the client-credentials grant (or take the legacy static token) and
   have the shop accept it (`shop { name }`);
2. scopes: `currentAppInstallation.accessScopes` holds what the connector reads (`read_orders`,
   `read_customers`, `read_products`, and `read_all_orders` when the backfill starts more than 60 days
   ago: without it Shopify hides older orders); a `write_` scope implies its `read_`;
3. API version: the `X-Shopify-API-Version` Shopify served equals `SHOPIFY_API_VERSION` (Shopify
   serves its oldest supported version instead of one it no longer supports, so a mismatch means the
   setting is out of date);
4. one page: the connector's own orders, customers and products queries with `first: 1` (a missing
   scope or protected-customer-data access shows here as Shopify's `ACCESS_DENIED`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from ingestion.common.checks import CheckFailed, SourceCheck, run_check
from ingestion.common.http import SourceAPIError
from ingestion.shopify.client import (
    CUSTOMER_FIELDS,
    SCOPES_QUERY,
    SHOP_QUERY,
    VERSION_HEADER,
    ShopifyGraphQLClient,
    ShopifyQueryError,
    order_fields,
    page_query,
    product_fields,
)
from ingestion.shopify.settings import (
    CLIENT_CREDENTIALS,
    CLIENT_ID_VAR,
    CLIENT_SECRET_VAR,
    DEFAULT_API_VERSION,
    TOKEN_VAR,
    ShopifySettings,
)

SOURCE = "shopify"
READ_SCOPES = ("read_orders", "read_customers", "read_products")
ALL_ORDERS_DAYS = 60  # Shopify shows an app only the last 60 days of orders without read_all_orders
CHECK_HTTP = {"max_attempts": 3, "backoff": 0.5, "max_wait": 5.0, "timeout": 30.0}


def required_scopes(start_date: str, today: date | None = None) -> list[str]:
    """The access scopes the connector needs to load from `start_date`."""
    today = today or datetime.now(UTC).date()
    start = date.fromisoformat(start_date[:10])
    return [*READ_SCOPES, *(["read_all_orders"] if start < today - timedelta(days=ALL_ORDERS_DAYS) else [])]


def _granted(handles: set[str]) -> set[str]:
    return handles | {f"read_{h.removeprefix('write_')}" for h in handles if h.startswith("write_")}


def check(env: Mapping[str, str] | None = None) -> SourceCheck:
    env = os.environ if env is None else env
    status = ShopifySettings.status(env)
    if not status.configured:
        return run_check(SOURCE, [], False, status.reason)
    settings = ShopifySettings.from_env(env, **CHECK_HTTP)
    kwargs = settings.source_kwargs()
    client = ShopifyGraphQLClient(
        **{k: kwargs[k] for k in ("api_url", "api_version", "access_token", "client_id", "client_secret")},
        **CHECK_HTTP,
    )
    client_credentials = settings.auth_path == CLIENT_CREDENTIALS
    where = f"{CLIENT_ID_VAR}/{CLIENT_SECRET_VAR}" if client_credentials else TOKEN_VAR

    def authenticate() -> str:
        minted = ""
        if client.auth is not None:
            token = client.auth.token()  # a refused exchange raises ShopifyAuthError: Shopify's reason
            hours = (
                "no expiry given"
                if token.expires_in is None
                else f"expires in {token.expires_in / 3600:.1f} h"
            )
            minted = f"token minted by the client-credentials grant ({hours}); "
        try:
            shop = client.execute(SHOP_QUERY)["shop"]["name"]
        except SourceAPIError as exc:
            if exc.status == 401:
                raise CheckFailed(
                    f"{minted}the shop rejected the token from {where} (HTTP 401): "
                    + ("is the app installed on this shop?" if client_credentials
                       else "revoked, or not this shop's token; a Dev Dashboard app's "
                            f"{CLIENT_ID_VAR} + {CLIENT_SECRET_VAR} replace it")
                ) from None  # fmt: skip
            raise
        return f"{minted}shop {shop!r} accepts the {settings.auth_path} ({where})"

    def scopes() -> str:
        data = client.execute(SCOPES_QUERY)
        handles = {s["handle"] for s in data["currentAppInstallation"]["accessScopes"]}
        needed = required_scopes(settings.start_date)
        missing = [s for s in needed if s not in _granted(handles)]
        if missing:
            where_to = (
                "add them to the app's version in the Dev Dashboard (Versions -> Access scopes), release "
                "it and approve the update on the shop"
                if client_credentials
                else "add them in the custom app's Admin API configuration, then reinstall it"
            )
            why = (
                " (read_all_orders: SHOPIFY_START_DATE is more than 60 days ago)"
                if "read_all_orders" in missing
                else ""
            )
            raise CheckFailed(f"missing access scope(s) {', '.join(missing)}{why}: {where_to}")
        return f"{', '.join(needed)} granted"

    def version() -> str:
        served, asked = client.served_version, settings.api_version
        if not served:
            raise CheckFailed(
                f"the shop's responses carry no {VERSION_HEADER}: is SHOPIFY_API_URL the shop's "
                "https://<shop>.myshopify.com address?"
            )
        if served != asked:
            raise CheckFailed(
                f"SHOPIFY_API_VERSION={asked} is not supported by Shopify any more: it serves {served} "
                f"instead; set SHOPIFY_API_VERSION={DEFAULT_API_VERSION} (the version the connector's "
                "queries are validated against) or unset it"
            )
        pinned = (
            ""
            if asked == DEFAULT_API_VERSION
            else f" (the connector's queries are validated against {DEFAULT_API_VERSION})"
        )
        return f"{served} served as asked{pinned}"

    def one_page() -> str:
        counts = []
        selections = (("orders", order_fields(settings.nested_page_size)), ("customers", CUSTOMER_FIELDS),
                      ("products", product_fields(settings.nested_page_size)))  # fmt: skip
        for root, selection in selections:
            try:
                data = client.execute(page_query(root, selection), {"first": 1, "after": None, "query": None})
            except ShopifyQueryError as exc:
                first = exc.errors[0] if exc.errors else {}
                raise CheckFailed(f"{root}: {first.get('message', exc)}") from None
            counts.append(f"{len(data[root]['nodes'])} {root}")
        return f"first page of each feed read ({', '.join(counts)})"

    steps = [("authenticate", authenticate), ("scopes", scopes), ("API version", version),
             ("one page", one_page)]  # fmt: skip
    return run_check(SOURCE, steps, True, status.reason)
