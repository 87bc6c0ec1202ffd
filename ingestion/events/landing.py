"""The landing format shared by the collector, the simulated shop and the loader (docs/sandbox.md).

Why a module of its own: the collector writes it, the generator imitates it and the loader reads it,
so where the files live and how an accepted event is enriched must be defined exactly once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingestion.events.pii import hash_event_pii
from ingestion.warehouse.paths import local_dir

CLICK_ID_KEYS = ("fbclid", "gclid")
# utm_* query parameter -> key in Segment's context.campaign
UTM_TO_CAMPAIGN = {
    "utm_source": "source",
    "utm_medium": "medium",
    "utm_campaign": "name",
    "utm_id": "id",
    "utm_content": "content",
    "utm_term": "term",
}
CLOSED_SUFFIX = ".jsonl"
OPEN_SUFFIX = ".jsonl.open"


def default_landing_dir() -> Path:
    """`$EVENTS_LANDING_DIR`, else the sandbox's landing dir (`sandbox_landing_dir`)."""
    explicit = os.environ.get("EVENTS_LANDING_DIR")
    if explicit:
        return Path(explicit).resolve()
    return sandbox_landing_dir()


def sandbox_landing_dir(env: Mapping[str, str] | None = None) -> Path:
    """`<local_dir>/sandbox/<JOURNEY_SANDBOX_SIZE or small>/landing/events`: where the simulated shop writes."""
    size = (os.environ if env is None else env).get("JOURNEY_SANDBOX_SIZE") or "small"
    return local_dir() / "sandbox" / size / "landing" / "events"


def default_quarantine_dir(landing_dir: Path) -> Path:
    """`$EVENTS_QUARANTINE_DIR`, else a `quarantine/` sibling of the landing dir (never read by the loader)."""
    explicit = os.environ.get("EVENTS_QUARANTINE_DIR")
    if explicit:
        return Path(explicit).resolve()
    return landing_dir.parent.parent / "quarantine" / landing_dir.name


class LandingDirMissing(FileNotFoundError):
    """The landing directory to load from does not exist (the message names it and what to do)."""


def missing_landing_dir(path: Path, env: Mapping[str, str] | None = None) -> str:
    """What to tell someone whose landing directory `path` does not exist: the variable that pointed
    there when it did, and the fixes. One wording for the loader and `journey sources check events`."""
    env = os.environ if env is None else env
    explicit = env.get("EVENTS_LANDING_DIR")
    if explicit and Path(explicit).resolve() == Path(path).resolve():
        return (
            f"EVENTS_LANDING_DIR={explicit} does not exist (or is not a directory): fix the variable, "
            "create the directory, or start `journey collector serve`, which creates it"
        )
    return (
        f"events landing directory {path} does not exist (or is not a directory): create it or "
        "start `journey collector serve`, which creates it"
    )


def closed_landing_files(landing_dir: Path) -> list[Path]:
    """Complete landing files (`dt=*/…/*.jsonl`), sorted; files still being written end in `.open`."""
    if not landing_dir.exists():
        return []
    return sorted(p for p in landing_dir.rglob("*" + CLOSED_SUFFIX) if p.is_file())


def _query_params(url: str) -> dict[str, str]:
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=False).items() if v}


def enrich(event: dict[str, Any], received_at: str, pii_salt: str) -> dict[str, Any]:
    """Add the server fields of the landing format to an accepted event (in place, returned).

    `receivedAt` is the collector's clock; `context.clickIds` and `context.campaign` are derived from
    the page URL only when the tracker did not send them (a tracker that persisted a click id for the
    session knows better than the current URL). A top-level string `channel` (where Segment's libraries
    put it) becomes `context.channel` unless the context has one. Emails and phones of `properties`,
    `traits` and `context.traits` are replaced by their salted hashes (ingestion/events/pii.py), so no
    landing file written here holds a raw address; `pii_salt` is `PII_HASH_SALT` (the collector reads it once).
    """
    event["receivedAt"] = received_at
    if event.get("context") is None:  # absent or JSON null: an empty context (the rules allow both)
        event["context"] = {}
    context = event["context"]
    if isinstance(event.get("channel"), str) and context.get("channel") is None:
        context["channel"] = event["channel"]
    hash_event_pii(event, pii_salt)
    page = context.get("page") if isinstance(context.get("page"), dict) else None
    url = page.get("url") if page else None
    params = _query_params(url) if isinstance(url, str) and "?" in url else {}
    if not isinstance(context.get("clickIds"), dict):
        context["clickIds"] = {k: params.get(k) for k in CLICK_ID_KEYS}
    if not isinstance(context.get("campaign"), dict):
        campaign = {name: params[utm] for utm, name in UTM_TO_CAMPAIGN.items() if utm in params}
        if campaign:
            context["campaign"] = campaign
    return event
