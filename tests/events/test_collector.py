"""The collector over real HTTP: validation, quarantine, durability, and reconciliation with the loader."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from ingestion.events.collector import CollectorConfig, running_collector
from ingestion.events.landing import closed_landing_files
from ingestion.events.load import load_landing_files
from ingestion.warehouse import WarehouseSettings
from tests.events.conftest import scalar
from tests.events.factory import iso, make_event


def fresh_event(i: int, **overrides: object) -> dict:
    """A tracker-shaped event (no server fields) stamped now, as a browser would send it."""
    now = datetime.now(UTC)
    event = make_event(i, **{"timestamp": iso(now), "sentAt": iso(now), **overrides})
    event.pop("receivedAt")
    event["context"].pop("clickIds")
    return event


def read_lines(paths: list[Path]) -> list[dict]:
    return [orjson.loads(line) for p in paths for line in p.read_bytes().splitlines()]


def test_every_sent_event_is_landed_or_quarantined(
    tmp_path: Path, warehouse: WarehouseSettings, events_schema: str
) -> None:
    landing = tmp_path / "landing" / "events"
    # tiny rotation size: each request lands in its own file, so a resent event is a cross-file duplicate
    config = CollectorConfig(landing_dir=landing, rotate_bytes=1)
    future = iso(datetime.now(UTC) + timedelta(days=3))
    sent = {"valid": 0, "invalid": 0}
    with running_collector(config) as url, httpx.Client(base_url=url) as client:
        batch = [fresh_event(i) for i in range(20)]
        r = client.post("/v1/batch", content=orjson.dumps({"batch": batch}))
        assert r.status_code == 200 and r.json()["accepted"] == 20
        sent["valid"] += 20
        # the same messageIds again (a tracker retry): accepted, deduped by the loader
        r = client.post("/v1/batch", content=orjson.dumps({"batch": batch[:5]}))
        assert r.status_code == 200
        sent["valid"] += 5
        # duplicate inside one batch
        r = client.post("/v1/batch", content=orjson.dumps({"batch": [fresh_event(100), fresh_event(100)]}))
        assert r.status_code == 200
        sent["valid"] += 2
        # single-event endpoints
        r = client.post("/v1/track", json={**fresh_event(200, type="track", event="Product Added")})
        assert r.status_code == 200
        r = client.post("/v1/page", json={k: v for k, v in fresh_event(201).items() if k != "type"})
        assert r.status_code == 200
        r = client.post("/v1/identify", json={**fresh_event(202, type="identify"), "userId": "42"})
        assert r.status_code == 200
        sent["valid"] += 3
        # a batch mixing good and bad events: good ones landed, bad ones quarantined, 400 names them
        mixed = [
            fresh_event(300),
            fresh_event(301, timestamp=future),
            fresh_event(302, messageId=7),
            fresh_event(303, properties="not an object"),
            {**fresh_event(304), "padding": "x" * 40_000},
            "not an object",
        ]
        r = client.post("/v1/batch", content=orjson.dumps({"batch": mixed}))
        assert r.status_code == 400
        body = r.json()
        assert body["accepted"] == 1
        reasons = [p["reason"] for p in body["rejected"]]
        assert reasons == [
            "timestamp more than 24h in the future (clock skew)",
            "messageId missing or not a non-empty string",
            "properties not an object",
            "event larger than 32768 bytes",
            "not a JSON object",
        ]
        sent["valid"] += 1
        sent["invalid"] += 5
        # whole requests that are invalid
        r = client.post("/v1/batch", content=b'{"batch": [ {"messageId": ')
        assert r.status_code == 400 and r.json()["error"].startswith("malformed JSON")
        r = client.post(
            "/v1/batch", content=orjson.dumps({"batch": [fresh_event(400, padding="y" * 30_000)] * 20})
        )
        assert r.status_code == 400 and "payload larger than" in r.json()["error"]
        r = client.post("/v1/track", content=orjson.dumps(fresh_event(401)))  # a page posted to /v1/track
        assert r.status_code == 400
        sent["invalid"] += 3
    # the collector stopped: every landing file is closed
    assert not list(landing.rglob("*.open"))
    files = closed_landing_files(landing)
    landed = read_lines(files)
    quarantined = read_lines(sorted(config.quarantine.rglob("*.jsonl")))
    assert len(landed) == sent["valid"]
    assert len(quarantined) == sent["invalid"]
    assert all(q["reason"] and "raw" in q for q in quarantined)
    assert all("receivedAt" in e for e in landed)
    # clickIds and campaign derived from the page URL when the tracker did not send them
    with_fb = [e for e in landed if "fbclid=" in e["context"]["page"]["url"]]
    assert with_fb and all(e["context"]["clickIds"]["fbclid"].startswith("fb") for e in with_fb)

    result = load_landing_files(landing, warehouse, schema=events_schema)
    unique = len({e["messageId"] for e in landed})
    assert result.files == len(files)
    assert result.rows_rejected == 0
    assert result.rows_loaded == unique
    assert result.duplicates_skipped == sent["valid"] - unique == 6
    assert scalar(warehouse, f"select count(*) from {events_schema}.events") == unique


def test_write_key_and_cors(tmp_path: Path) -> None:
    config = CollectorConfig(
        landing_dir=tmp_path / "events", write_key="wk_secret", cors_origins=("http://shop.test",)
    )
    with running_collector(config) as url, httpx.Client(base_url=url) as client:
        body = orjson.dumps({"batch": [fresh_event(1)]})
        assert client.post("/v1/batch", content=body).status_code == 401
        basic = base64.b64encode(b"wk_secret:").decode()
        r = client.post("/v1/batch", content=body, headers={"Authorization": f"Basic {basic}"})
        assert r.status_code == 200
        beacon = orjson.dumps({"batch": [fresh_event(2)], "writeKey": "wk_secret"})
        headers = {"Origin": "http://shop.test", "Content-Type": "text/plain"}
        r = client.post("/v1/batch", content=beacon, headers=headers)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "http://shop.test"
        r = client.post("/v1/batch", content=beacon, headers={"Origin": "http://evil.test"})
        assert r.status_code == 403
    landed = read_lines(closed_landing_files(tmp_path / "events"))
    assert sorted(e["messageId"] for e in landed) == sorted(
        [fresh_event(1)["messageId"], fresh_event(2)["messageId"]]
    )
    assert all("writeKey" not in e for e in landed)


def test_health_says_ok_and_nothing_about_the_machine(tmp_path: Path) -> None:
    landing = tmp_path / "secret-place" / "events"
    with running_collector(CollectorConfig(landing_dir=landing, write_key="wk")) as url:
        r = httpx.get(f"{url}/health")
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert "secret-place" not in r.text and str(tmp_path) not in r.text


def test_top_level_channel_goes_to_context(tmp_path: Path) -> None:
    """Segment's libraries send `channel` at the top level; context.channel is where the warehouse reads it."""
    top = fresh_event(1, channel="server")
    both = fresh_event(2, channel="server")
    both["context"]["channel"] = "pixel"
    none = fresh_event(3)
    with running_collector(CollectorConfig(landing_dir=tmp_path / "events")) as url:
        r = httpx.post(f"{url}/v1/batch", content=orjson.dumps({"batch": [top, both, none]}))
        assert r.status_code == 200, r.text
    got = {
        e["messageId"]: e["context"].get("channel")
        for e in read_lines(closed_landing_files(tmp_path / "events"))
    }
    assert got == {top["messageId"]: "server", both["messageId"]: "pixel", none["messageId"]: None}


def dbt_hash_pii(settings: WarehouseSettings, value: str | None, kind: str) -> str | None:
    """What dbt computes: the `hash_pii` macro itself, rendered with Jinja, run in the warehouse."""
    import jinja2

    macro = (Path(__file__).parents[2] / "dbt_project" / "macros" / "hash_pii.sql").read_text()
    expr = (
        jinja2.Environment()
        .from_string(macro + "{{ hash_pii(col, kind) }}")
        .render(col="%s::text", kind=kind)
    )
    assert "private.hash_pii" in expr
    return scalar(settings, f"select {expr.strip()}", value)


PII_CASES = [
    ("email", "  Jane.Doe@Example.COM "),
    ("email", "ÄNNE@Example.com"),  # the warehouse's C locale lowercases ASCII letters only
    ("email", "\tjane@example.com"),  # trim drops spaces, not tabs
    ("email", "   "),  # normalised to nothing: null, like the macro
    ("phone", "+49 (0)151 234-567"),
    ("phone", "0151/234 56 ٧"),  # ASCII digits only
    ("phone", "n/a"),
]


def test_emails_and_phones_are_hashed_like_dbt_before_landing(
    tmp_path: Path, warehouse: WarehouseSettings, events_schema: str
) -> None:
    events = []
    for i, (kind, value) in enumerate(PII_CASES):
        identify = fresh_event(500 + i, type="identify", userId=f"u{i}")
        identify.pop("properties")
        identify["traits"] = {kind: value, "name": "Jane"}
        events.append(identify)
    track = fresh_event(
        600, type="track", event="Order Completed", properties={"email": "a@b.c", "phone": 4915}
    )
    track["context"]["traits"] = {"email": "Jane.Doe@example.com"}
    events.append(track)
    with running_collector(CollectorConfig(landing_dir=tmp_path / "events")) as url:
        r = httpx.post(f"{url}/v1/batch", content=orjson.dumps({"batch": events}))
        assert r.status_code == 200, r.text
    files = closed_landing_files(tmp_path / "events")
    text = b"".join(p.read_bytes() for p in files).decode()
    assert "Jane.Doe" not in text and "@" not in text and "+49" not in text and "0151/" not in text
    landed = {e["messageId"]: e for e in read_lines(files)}
    for i, (kind, value) in enumerate(PII_CASES):
        traits = landed[fresh_event(500 + i)["messageId"]]["traits"]
        assert traits == {"name": "Jane", f"{kind}_sha256": dbt_hash_pii(warehouse, value, kind)}, value
    assert landed[fresh_event(500)["messageId"]]["traits"]["email_sha256"] is not None
    assert landed[fresh_event(503)["messageId"]]["traits"]["email_sha256"] is None
    got = landed[track["messageId"]]
    assert got["properties"] == {
        "email_sha256": dbt_hash_pii(warehouse, "a@b.c", "email"),
        "phone_sha256": None,  # not a string: not kept raw, not hashed
    }
    assert got["context"]["traits"] == {
        "email_sha256": dbt_hash_pii(warehouse, " jane.doe@EXAMPLE.com", "email")
    }
    # loaded as landed: the loader's SQL twin finds nothing left to hash
    load_landing_files(tmp_path / "events", warehouse, schema=events_schema)
    stored = scalar(
        warehouse, f"select properties from {events_schema}.events where message_id = %s", track["messageId"]
    )
    assert stored == got["properties"]
