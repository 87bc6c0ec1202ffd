"""Who owns each asset and how it is tagged, in one place: a table of asset groups, applied to every
asset (dlt, dbt, Python) in definitions.py with `Definitions.map_asset_specs`.

Tags, for filtering the catalog and the lineage in the UI (`tag:tier=mart`, `tag:pii=true`):
- `tier`: raw | seed | staging | intermediate | mart | ml | insights (the layer, from the group);
- `domain`: commerce (orders, customers, products) | marketing (ads, campaigns, attribution) | web
  (tracked events, sessions, GA4 traffic) | data-science | insights; raw groups by source, dbt models
  by their folder (staging/<source>, intermediate/<area>, marts/<area>; `DBT_FOLDER_DOMAINS`);
- `pii`: `true` on raw tables holding clear-text personal data (emails, phones, names, addresses, free
  event traits), `hashed` on dbt models that carry salted hashes of them (their SQL calls
  `hash_pii`). The `reporter` role (Metabase) reads neither: docs/architecture.md, "Roles".

Owners are Dagster owner strings (`team:<name>`): data engineering runs the loads and the dbt layers up
to intermediate, analytics owns the marts analysts query, data science the models and the insights.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

DATA_ENGINEERING = "team:data-engineering"
ANALYTICS = "team:analytics"
DATA_SCIENCE = "team:data-science"


@dataclass(frozen=True)
class GroupCatalog:
    owner: str
    tier: str
    domain: str | None = None  # None: per asset (dbt models: from their folder)


GROUPS: dict[str, GroupCatalog] = {
    "shopify": GroupCatalog(DATA_ENGINEERING, "raw", "commerce"),
    "order_history": GroupCatalog(DATA_ENGINEERING, "raw", "commerce"),
    "meta_ads": GroupCatalog(DATA_ENGINEERING, "raw", "marketing"),
    "google_ads": GroupCatalog(DATA_ENGINEERING, "raw", "marketing"),
    "ga4": GroupCatalog(DATA_ENGINEERING, "raw", "web"),
    "events": GroupCatalog(DATA_ENGINEERING, "raw", "web"),
    "seeds": GroupCatalog(DATA_ENGINEERING, "seed", "web"),  # channel_rules: the channel grouping
    "staging": GroupCatalog(DATA_ENGINEERING, "staging"),
    "intermediate": GroupCatalog(DATA_ENGINEERING, "intermediate"),
    "marts": GroupCatalog(ANALYTICS, "mart"),
    "ml": GroupCatalog(DATA_SCIENCE, "ml", "data-science"),
    "insights": GroupCatalog(DATA_SCIENCE, "insights", "insights"),
    "activation": GroupCatalog(ANALYTICS, "activation", "marketing"),
}

# dbt model folder (the one below staging/, intermediate/, marts/) -> domain
DBT_FOLDER_DOMAINS: dict[str, str] = {
    # staging/<source>
    "shopify": "commerce",
    "order_history": "commerce",
    "meta_ads": "marketing",
    "google_ads": "marketing",
    "ga4": "web",
    "events": "web",
    # intermediate/<area>
    "orders": "commerce",
    "customers": "commerce",
    "identity": "web",
    "consent": "web",
    "sessions": "web",
    "attribution": "marketing",
    # marts/<area>
    "core": "commerce",
    "marketing": "marketing",
    "ml": "data-science",
    # staging/activation, marts/activation: segments (segments/*.yml)
    "activation": "marketing",
}

# raw tables with clear-text personal data (checked against the raw contract's columns in
# tests/test_catalog.py): emails/phones/names/cities; events' identify traits and user ids; rejected
# landing lines keep the raw event text
PII_TABLES: frozenset[tuple[str, str]] = frozenset({
    ("shopify", "orders"),
    ("shopify", "customers"),
    ("order_history", "orders"),  # email, and customer ids that may be emails
    ("events", "events"),
    ("events", "rejected"),
})  # fmt: skip


def dbt_domain(fqn: list[str]) -> str | None:
    """Domain of a dbt node from its path (`[project, layer, folder, ..., name]`)."""
    return DBT_FOLDER_DOMAINS.get(fqn[2]) if len(fqn) > 3 else None


def catalog_tags(key: dg.AssetKey, group: str | None) -> dict[str, str]:
    """tier/domain/pii of an asset from its group and key (a dbt model's own domain/pii tags win)."""
    entry = GROUPS.get(group or "")
    tags: dict[str, str] = {}
    if entry is not None:
        tags["tier"] = entry.tier
        if entry.domain:
            tags["domain"] = entry.domain
    if tuple(key.path) in PII_TABLES:
        tags["pii"] = "true"
    return tags


def with_catalog(spec: dg.AssetSpec) -> dg.AssetSpec:
    """The spec with its group's owner and the catalog's tags (tags the asset already has win).

    An asset in a group missing from GROUPS fails the code location here, so a new domain cannot land
    without an owner."""
    entry = GROUPS.get(spec.group_name or "")
    if entry is None:
        raise ValueError(
            f"asset {spec.key.to_user_string()} is in group {spec.group_name!r}, which has no owner: "
            "add it to GROUPS in orchestration/defs/shared/catalog.py"
        )
    return spec.replace_attributes(
        owners=list(spec.owners) or [entry.owner],
        tags={**catalog_tags(spec.key, spec.group_name), **spec.tags},
    )
