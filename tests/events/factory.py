"""Landing-format events crafted for tests and the benchmark (docs/sandbox.md, collector landing format)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

BASE = datetime(2025, 1, 2, 10, 0, 0, tzinfo=UTC)
EVENTS = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def make_event(i: int, rng: random.Random | None = None, **overrides: Any) -> dict[str, Any]:
    """One realistic landing-format event; `i` makes messageId and timestamp unique and deterministic."""
    rng = rng or random.Random(i)
    ts = BASE + timedelta(seconds=i)
    kind = rng.random()
    product = str(rng.randint(1, 400))
    page_url = f"https://shop.example/products/p-{product}"
    campaign = None
    click_ids = {"fbclid": None, "gclid": None}
    if kind < 0.4:
        page_url += f"?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring&fbclid=fb{i}"
        campaign = {"source": "facebook", "medium": "paid_social", "name": "spring", "id": "120001",
                    "content": "9001", "term": None}  # fmt: skip
        click_ids["fbclid"] = f"fb{i}"
    event: dict[str, Any] = {
        "messageId": f"m-{i:09d}-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}",
        "type": "page" if kind < 0.5 else "track",
        "anonymousId": f"a-{rng.randint(1, 200_000):08d}",
        "userId": None,
        "timestamp": iso(ts),
        "sentAt": iso(ts + timedelta(milliseconds=300)),
        "receivedAt": iso(ts + timedelta(milliseconds=420)),
        "properties": {},
        "context": {
            "page": {
                "url": page_url,
                "path": f"/products/p-{product}",
                "referrer": "https://www.google.com/",
                "title": f"Product {product}",
            },  # fmt: skip
            "clickIds": click_ids,
            "device": {"type": rng.choice(("desktop", "mobile", "tablet"))},
            "userAgent": UA,
            "library": {"name": "journey-tracker.js", "version": "1"},
        },
    }
    if campaign:
        event["context"]["campaign"] = campaign
    if event["type"] == "track":
        name = EVENTS[min(int((kind - 0.5) / 0.5 * 4), 3)]
        event["event"] = name
        event["properties"] = {"product_id": product, "price": 25.0, "quantity": 1, "category": "skincare"}
        if name == "Order Completed":
            event["properties"] = {"order_id": str(10_000 + i), "revenue": 80.0}
    event.update(overrides)
    return event


def write_jsonl(path: Path, lines: list[bytes | dict[str, Any]]) -> Path:
    """Write raw lines (bytes as given, dicts as JSON) as one closed landing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for line in lines:
            fh.write((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n")
    return path


def write_landing(landing_dir: Path, rows: int, per_file: int = 50_000, seed: int = 7) -> int:
    """Write `rows` valid events in `dt=…/bench-<n>.jsonl` files; returns bytes written."""
    rng = random.Random(seed)
    total = 0
    for f, start in enumerate(range(0, rows, per_file)):
        n = min(per_file, rows - start)
        day = (BASE + timedelta(seconds=start)).date().isoformat()
        path = landing_dir / f"dt={day}" / f"bench-{f:05d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = b"\n".join(orjson.dumps(make_event(start + k, rng)) for k in range(n)) + b"\n"
        path.write_bytes(data)
        total += len(data)
    return total
