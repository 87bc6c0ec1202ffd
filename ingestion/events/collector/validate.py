"""Rules an incoming event must pass before the collector lands it.

The loader re-checks the same rules in SQL (ingestion/events/load/sql.py): the collector is the first
line of defence, the loader the one that protects the warehouse from files written by anyone else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

TYPES = ("page", "track", "identify")
MAX_MESSAGE_ID = 200


def parse_iso(value: Any) -> datetime | None:
    """An ISO-8601 date-time (`Z` or offset; naive = UTC), else None. Same shape test as the loader."""
    if not isinstance(value, str) or len(value) < 16 or not value[0].isdigit():
        return None
    if value[4] != "-" or value[10] not in "T ":
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def event_reason(
    event: Any,
    received_at: datetime,
    *,
    max_bytes: int = 32 * 1024,
    max_skew: timedelta = timedelta(hours=24),
) -> str | None:
    """Why `event` cannot be accepted, or None when it is valid."""
    if not isinstance(event, dict):
        return "event is not a JSON object"
    if len(orjson.dumps(event)) > max_bytes:
        return f"event larger than {max_bytes} bytes"
    mid = event.get("messageId")
    if not isinstance(mid, str) or not mid:
        return "messageId missing or not a non-empty string"
    if len(mid) > MAX_MESSAGE_ID:
        return f"messageId longer than {MAX_MESSAGE_ID} characters"
    kind = event.get("type")
    if not isinstance(kind, str):
        return "type missing or not a string"
    if kind not in TYPES:
        return "type must be page, track or identify"
    name = event.get("event")
    if name is not None and not isinstance(name, str):
        return "event not a string"
    if kind == "track" and not name:
        return "track event without event name"
    anon, uid = event.get("anonymousId"), event.get("userId")
    if anon is not None and not isinstance(anon, str):
        return "anonymousId not a string"
    if uid is not None and not (isinstance(uid, str) or _is_number(uid)):
        return "userId not a string"
    if not anon and (uid is None or uid == ""):
        return "anonymousId or userId required"
    ts = parse_iso(event.get("timestamp"))
    if ts is None:
        return "timestamp missing or not an ISO-8601 string"
    sent_at = None
    if event.get("sentAt") is not None:
        sent_at = parse_iso(event["sentAt"])
        if sent_at is None:
            return "sentAt not an ISO-8601 string"
    for key in ("properties", "context"):
        if event.get(key) is not None and not isinstance(event[key], dict):
            return f"{key} not an object"
    revenue = (event.get("properties") or {}).get("revenue")
    if revenue is not None and not _is_number(revenue):
        return "properties.revenue not a number"
    if ts > received_at + max_skew or (sent_at is not None and ts > sent_at + max_skew):
        return f"timestamp more than {max_skew.total_seconds() / 3600:g}h in the future (clock skew)"
    return None
