"""The server-side client (ingestion/events/client.py) against a real collector over HTTP.

Each request lands in a landing file of its own (rotate_bytes=1), so counting files counts requests;
counting landing lines by messageId shows every event landed exactly once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ingestion.events.client import (
    CHANNEL,
    LIBRARY,
    DeliveryFailed,
    EventClient,
    EventsRejected,
    EventTooLarge,
    WriteKeyRejected,
)
from ingestion.events.collector import CollectorConfig, create_app, running_collector
from ingestion.events.collector.server import running_app
from ingestion.events.landing import closed_landing_files
from tests.conftest import free_port
from tests.events.test_durability import FillingDisk

KEY = "wk_server_test"


class Sleeps:
    """The client's injected sleep: records each wait and can run an action at the first one."""

    def __init__(self, on_first=None) -> None:
        self.waits: list[float] = []
        self.on_first = on_first

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) == 1 and self.on_first:
            self.on_first()


def config(tmp_path: Path) -> CollectorConfig:
    return CollectorConfig(landing_dir=tmp_path / "events", write_key=KEY, rotate_bytes=1)


def landed(tmp_path: Path) -> list[dict]:
    return [
        orjson.loads(line)
        for p in closed_landing_files(tmp_path / "events")
        for line in p.read_bytes().splitlines()
    ]


def requests_landed(tmp_path: Path) -> int:
    return len(closed_landing_files(tmp_path / "events"))


def test_batches_and_marks_events_as_server(tmp_path: Path) -> None:
    with running_collector(config(tmp_path)) as url:
        with EventClient(url, KEY, batch_size=10) as client:
            ids = [client.track("Order Refunded", {"order_id": str(i)}, user_id="42") for i in range(25)]
            assert client.pending == 5  # two full batches went out as the queue filled
            own = client.track("Order Refunded", {"order_id": "r-1"}, user_id="42", message_id="refund-1")
            ids.append(client.identify("42", {"plan": "pro"}, anonymous_id="a-1"))
            ids.append(
                client.page(
                    "Account", {"url": "https://shop.example/account?x=1", "path": "/account"}, user_id="42"
                )
            )
        assert own == "refund-1"
    events = landed(tmp_path)
    assert requests_landed(tmp_path) == 3  # 10 + 10 + the last 8 on close
    assert sorted(e["messageId"] for e in events) == sorted([*ids, "refund-1"])  # each once
    assert all(uuid.UUID(m).version == 4 for m in ids)  # uuid4 unless given
    assert all(e["context"]["channel"] == CHANNEL == "server" for e in events)
    assert all(
        e["context"]["library"] == LIBRARY == {"name": "journey-python", "version": "1"} for e in events
    )
    first = events[0]
    assert first["type"] == "track" and first["userId"] == "42" and first["properties"] == {"order_id": "0"}
    datetime.strptime(first["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")  # the tracker's shape
    assert first["timestamp"][-5] == "." and "sentAt" in first
    page = next(e for e in events if e["type"] == "page")
    assert page["context"]["page"]["url"] == "https://shop.example/account?x=1"
    assert page["name"] == "Account"
    identify = next(e for e in events if e["type"] == "identify")
    assert identify["traits"] == {"plan": "pro"} and identify["anonymousId"] == "a-1"


def test_batches_are_split_by_the_collectors_payload_limit(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with running_collector(cfg) as url, EventClient(url, KEY, batch_size=100) as client:
        for i in range(60):
            client.track("Note Added", {"text": "x" * 20_000, "i": i}, user_id="7")
        with pytest.raises(EventTooLarge, match="bytes"):
            client.track("Note Added", {"text": "x" * (cfg.max_event_bytes - 100)}, user_id="7")
        assert client.pending == 60  # the too large event was never queued
        assert client.flush() == 60
    files = closed_landing_files(tmp_path / "events")
    # 60 events of ~20 KB are 1.2 MB: at least 3 requests, each under 500 KB (the collector answered 200)
    assert len(files) >= 3
    assert sorted(e["properties"]["i"] for e in landed(tmp_path)) == list(range(60))


def test_wrong_write_key_is_a_clear_error_and_not_retried(tmp_path: Path) -> None:
    sleeps = Sleeps()
    with running_collector(config(tmp_path)) as url:
        client = EventClient(url, "wk_wrong", sleep=sleeps)
        client.track("Order Refunded", {}, user_id="42")
        with pytest.raises(WriteKeyRejected, match="401.*invalid write key.*check the write key"):
            client.flush()
        assert sleeps.waits == [] and client.pending == 1
        with pytest.raises(WriteKeyRejected):
            client.close()
    assert landed(tmp_path) == []
    with pytest.raises(ValueError, match="write_key is required"):
        EventClient("http://127.0.0.1:1", "")


def test_503_is_retried_and_every_event_lands_exactly_once(tmp_path: Path) -> None:
    disk = FillingDisk(free=3_000)  # room for the first batch, then full mid-line

    def space_is_back() -> None:
        disk.free = 10**9

    sleeps = Sleeps(on_first=space_is_back)
    app = create_app(config(tmp_path), file_write=disk.write)
    with running_app(app) as url, EventClient(url, KEY, batch_size=5, sleep=sleeps) as client:
        ids = [client.track("Order Refunded", {"order_id": str(i)}, user_id="42") for i in range(20)]
        assert client.pending == 0
    assert disk.short_writes == 1  # the disk really filled up mid-request
    assert sleeps.waits[0] == 5  # the collector's Retry-After
    counts = Counter(e["messageId"] for e in landed(tmp_path))
    assert set(counts) == set(ids) and set(counts.values()) == {1}


def test_400_surfaces_the_reasons_per_event(tmp_path: Path) -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    sleeps = Sleeps()
    with running_collector(config(tmp_path)) as url, EventClient(url, KEY, sleep=sleeps) as client:
        good = client.track("Order Refunded", {"revenue": -25.0}, user_id="42")
        client.track("Order Refunded", {"revenue": "25 EUR"}, user_id="42", message_id="bad-revenue")
        client.track("Order Refunded", {}, user_id="42", timestamp=future, message_id="bad-clock")
        with pytest.raises(EventsRejected) as caught:
            client.flush()
        assert client.pending == 0 and sleeps.waits == []  # resending invalid events cannot help
    err = caught.value
    assert err.accepted == 1
    assert err.rejected == [
        {"messageId": "bad-revenue", "event": "Order Refunded", "reason": "properties.revenue not a number"},
        {
            "messageId": "bad-clock",
            "event": "Order Refunded",
            "reason": "timestamp more than 24h in the future (clock skew)",
        },
    ]
    assert "bad-revenue (Order Refunded): properties.revenue not a number" in str(err)
    assert [e["messageId"] for e in landed(tmp_path)] == [good]


def test_exhausted_retries_keep_the_events_for_a_later_flush(tmp_path: Path) -> None:
    disk = FillingDisk(free=0)
    sleeps = Sleeps()
    app = create_app(config(tmp_path), file_write=disk.write)
    with running_app(app) as url:
        client = EventClient(url, KEY, batch_size=50, max_retries=3, sleep=sleeps)
        ids = [client.track("Subscription Renewed", {"n": i}, user_id="9") for i in range(7)]
        with pytest.raises(DeliveryFailed, match="after 4 attempt.*HTTP 503.*7 event.*kept") as caught:
            client.flush()
        assert caught.value.status == 503 and client.pending == 7
        assert sleeps.waits == [5, 5, 5]
        assert [e["messageId"] for e in client.unsent()] == ids
        disk.free = 10**9
        assert client.flush() == 7
        client.close()
    counts = Counter(e["messageId"] for e in landed(tmp_path))
    assert set(counts) == set(ids) and set(counts.values()) == {1}


def test_network_errors_are_retried_with_capped_backoff(tmp_path: Path) -> None:
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = EventClient(url, KEY, max_retries=6, backoff=0.5, max_backoff=4.0, sleep=sleeps, timeout=2)
    client.track("Order Refunded", {}, user_id="42")
    with pytest.raises(DeliveryFailed, match="network error.*ConnectionError") as caught:
        client.flush()
    assert caught.value.status is None and client.pending == 1
    # jittered exponential backoff: each wait within [cap/2, cap] of 0.5, 1, 2, 4, 4, 4
    caps = [0.5, 1, 2, 4, 4, 4]
    assert len(sleeps.waits) == 6
    assert all(cap / 2 <= w <= cap for w, cap in zip(sleeps.waits, caps, strict=True))
    # once a collector is there, the same queue is delivered
    port = int(url.rsplit(":", 1)[1])
    with running_collector(config(tmp_path), port=port):
        assert client.flush() == 1
        client.close()
    assert len(landed(tmp_path)) == 1


def test_other_client_errors_are_not_retried(tmp_path: Path) -> None:
    sleeps = Sleeps()
    with running_collector(config(tmp_path)) as url:
        client = EventClient(url + "/nowhere", KEY, sleep=sleeps)
        client.track("Order Refunded", {}, user_id="42")
        with pytest.raises(DeliveryFailed, match="HTTP 404"):
            client.flush()
        assert sleeps.waits == [] and client.pending == 1
