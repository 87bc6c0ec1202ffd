"""The loader on crafted landing files: every line accounted for, reasons, dedupe, re-runs, contract."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest

from ingestion.events.check import check as check_events
from ingestion.events.landing import LandingDirMissing
from ingestion.events.load import load_landing_files
from ingestion.events.load.sql import EVENT_COLUMNS, insert_events, insert_params
from ingestion.events.pii import hash_event_pii, hash_pii
from ingestion.warehouse import WarehouseSettings
from ingestion.warehouse.pii import pii_salt
from tests.events.conftest import rows, scalar
from tests.events.factory import make_event, write_jsonl


def _bad_lines() -> list[tuple[bytes | dict, str]]:
    """(line, expected reason prefix) for each kind of invalid line the loader must reject."""
    good = make_event(900)
    return [
        (b'{"messageId": "broken", "type": "page"', "malformed JSON"),
        ({**good, "messageId": None}, "messageId missing"),
        ({k: v for k, v in make_event(901).items() if k != "type"}, "type missing"),
        ({**make_event(902), "type": "screen"}, "type must be page, track or identify"),
        ({**make_event(903), "messageId": 12345}, "messageId missing or not a non-empty string"),
        ({**make_event(904), "timestamp": 1735812000}, "timestamp missing or not an ISO-8601"),
        ({**make_event(905), "timestamp": "now"}, "timestamp missing or not an ISO-8601"),
        ({**make_event(906), "properties": [1, 2]}, "properties not an object"),
        ({**make_event(907), "anonymousId": None, "userId": None}, "anonymousId or userId required"),
        ({**make_event(908), "timestamp": "2025-01-05T10:00:00.000Z"}, "timestamp more than 24h"),
        ({**make_event(909), "type": "track", "event": None}, "track event without event name"),
        ({**make_event(910), "receivedAt": None}, "receivedAt missing"),
        (b"[1, 2, 3]", "not a JSON object"),
    ]


def test_every_line_accounted_for(tmp_path: Path, warehouse: WarehouseSettings, events_schema: str) -> None:
    landing = tmp_path / "landing"
    good = [make_event(i) for i in range(200)]
    bad = _bad_lines()
    # file 1: good events, a duplicate inside the file, and every kind of bad line
    file1 = good[:100] + [good[5]] + [line for line, _ in bad]
    # file 2: the rest, one duplicate of file 1 and a well-shaped but impossible date (strict path)
    month13 = {**make_event(911), "timestamp": "2025-13-40T10:00:00.000Z"}
    file2 = good[100:] + [good[7], month13]
    write_jsonl(landing / "dt=2025-01-02" / "a.jsonl", file1)
    write_jsonl(landing / "dt=2025-01-03" / "b.jsonl", file2)
    # file 3: CRLF line endings and invalid UTF-8 force the line-by-line path
    crlf = orjson.dumps(make_event(950)) + b"\r"
    (landing / "dt=2025-01-03" / "c.jsonl").write_bytes(crlf + b"\n" + b"\xff\xfe not utf8\n")
    # an open file of a live collector must not be read
    write_jsonl(landing / "dt=2025-01-03" / "d.jsonl.open", [make_event(999)])

    result = load_landing_files(landing, warehouse, schema=events_schema)

    lines = len(file1) + len(file2) + 2
    assert result.files == 3
    assert result.lines == lines
    assert result.rows_loaded == 201  # 200 good + the CRLF one
    assert result.duplicates_skipped == 2
    assert result.rows_rejected == len(bad) + 2  # + month 13 + invalid UTF-8
    s = events_schema
    assert scalar(warehouse, f"select count(*) from {s}.events") == 201
    assert scalar(warehouse, f"select count(distinct message_id) from {s}.events") == 201
    reasons = dict(
        ((f, n), r)
        for f, n, r in rows(warehouse, f"select landing_file, line_number, reason from {s}.rejected")
    )
    for offset, (_, expected) in enumerate(bad):
        assert reasons[("dt=2025-01-02/a.jsonl", 102 + offset)].startswith(expected)
    assert reasons[("dt=2025-01-03/b.jsonl", 102)].startswith("timestamp missing or not an ISO-8601")
    assert reasons[("dt=2025-01-03/c.jsonl", 2)] == "invalid UTF-8"
    raw = scalar(
        warehouse, f"select raw from {s}.rejected where line_number = 102 and landing_file like '%%a.jsonl'"
    )
    assert raw == '{"messageId": "broken", "type": "page"'
    per_file = rows(
        warehouse,
        f"select landing_file, rows_loaded, rows_rejected, rows_duplicate from {s}.loaded_files order by 1",
    )
    assert per_file == [
        ("dt=2025-01-02/a.jsonl", 100, len(bad), 1),
        ("dt=2025-01-03/b.jsonl", 100, 1, 1),
        ("dt=2025-01-03/c.jsonl", 1, 1, 0),
    ]

    again = load_landing_files(landing, warehouse, schema=s)
    assert (again.files, again.rows_loaded, again.files_skipped) == (0, 0, 3)
    assert scalar(warehouse, f"select count(*) from {s}.events") == 201

    # a new file repeating known ids: all skipped as duplicates across runs
    write_jsonl(landing / "dt=2025-01-04" / "e.jsonl", good[:10] + [make_event(5000)])
    third = load_landing_files(landing, warehouse, schema=s)
    assert (third.files, third.rows_loaded, third.duplicates_skipped) == (1, 1, 10)


def test_columns_follow_the_contract(
    tmp_path: Path, warehouse: WarehouseSettings, events_schema: str
) -> None:
    event = make_event(3, type="track", event="Order Completed",
                       properties={"order_id": "1001", "revenue": 80.5, "product_id": 17})  # fmt: skip
    event["context"]["campaign"] = {"source": "facebook", "medium": "paid_social", "name": "spring",
                                    "id": "120", "content": "9", "term": None}  # fmt: skip
    event["context"]["clickIds"] = {"fbclid": "FB1", "gclid": None}
    write_jsonl(tmp_path / "dt=2025-01-02" / "x.jsonl", [event])
    load_landing_files(tmp_path, warehouse, schema=events_schema)
    cols = [
        r[0]
        for r in rows(
            warehouse,
            "select column_name from information_schema.columns where table_schema = %s "
            "and table_name = 'events' order by ordinal_position",
            events_schema,
        )
    ]
    assert tuple(cols) == EVENT_COLUMNS
    got = rows(
        warehouse,
        f"select message_id, type, event, utm_source, utm_campaign, utm_id, utm_content, fbclid, gclid, "
        f"product_id, order_id, revenue, device_type, page_path, landing_file, "
        f'received_at - "timestamp" from {events_schema}.events',
    )[0]
    assert got[:12] == (event["messageId"], "track", "Order Completed", "facebook", "spring", "120", "9",
                        "FB1", None, "17", "1001", __import__("decimal").Decimal("80.5"))  # fmt: skip
    assert got[12] == event["context"]["device"]["type"]
    assert got[14] == "dt=2025-01-02/x.jsonl"
    assert got[15].total_seconds() == 0.42


def test_a_configured_but_missing_landing_dir_is_an_error(tmp_path: Path, monkeypatch) -> None:
    """EVENTS_LANDING_DIR pointing nowhere fails the load with the variable and the path (not "0 rows
    loaded"); `journey sources check events` says the same words."""
    missing = tmp_path / "no-such-dir"
    monkeypatch.setenv("EVENTS_LANDING_DIR", str(missing))
    with pytest.raises(LandingDirMissing) as failure:
        load_landing_files(missing, WarehouseSettings())  # fails before it connects
    message = str(failure.value)
    assert f"EVENTS_LANDING_DIR={missing} does not exist" in message
    assert "journey collector serve" in message
    checked = check_events()
    assert checked.verdict == "FAILED"
    assert checked.summary() == f"landing: {message}"
    missing.mkdir()
    assert check_events().verdict == "OK"


def test_raw_emails_and_phones_of_other_writers_are_hashed_on_load(
    tmp_path: Path, warehouse: WarehouseSettings, events_schema: str
) -> None:
    """A landing file not written by the collector (another writer, an old file) with raw traits: the
    loader's SQL twin stores exactly what the collector's Python rule would have landed."""
    identify = make_event(1, type="identify", userId="42")
    identify.pop("properties")
    identify["traits"] = {"email": " Jane.Doe@Example.COM", "phone": "+49 151 234", "plan": "pro"}
    track = make_event(2, type="track", event="Order Completed", properties={"order_id": "7", "email": None})
    track["context"]["traits"] = {"email": "jane.doe@example.com", "phone": ["+49"], "name": "Jane"}
    page = make_event(3, type="page")  # nothing to hash: stored as it is
    page["context"]["traits"] = {"name": "Jane"}
    events = [identify, track, page]
    write_jsonl(tmp_path / "dt=2025-01-02" / "other-writer.jsonl", events)
    load_landing_files(tmp_path, warehouse, schema=events_schema)
    stored = {
        mid: (props, ctx)
        for mid, props, ctx in rows(
            warehouse, f"select message_id, properties, context from {events_schema}.events"
        )
    }
    salt = pii_salt()
    for event in events:
        expected = hash_event_pii(copy.deepcopy(event), salt)
        props, ctx = stored[event["messageId"]]
        assert props == expected.get("properties", expected.get("traits")), event["type"]
        assert ctx == expected["context"]
    assert stored[identify["messageId"]][0] == {
        "plan": "pro",
        "email_sha256": hash_pii("jane.doe@example.com", salt),
        "phone_sha256": hash_pii("+49151234", salt, "phone"),
    }
    assert stored[track["messageId"]][1]["traits"] == {
        "name": "Jane",
        "email_sha256": hash_pii("jane.doe@example.com", salt),
        "phone_sha256": None,
    }
    assert stored[page["messageId"]][1] == page["context"]
    raw = scalar(
        warehouse, f"select string_agg(properties::text || context::text, '') from {events_schema}.events"
    )
    assert "@" not in raw and "+49" not in raw


def test_the_pii_salt_is_a_bind_parameter() -> None:
    """The salt never appears in the statement's text (server logs, pg_stat_statements)."""
    text = insert_events("events").as_string(None)
    assert "%(pii_salt)s" in text and pii_salt() not in text
    assert insert_params("L1", "s3cret") == {"load_id": "L1", "pii_salt": "s3cret"}
