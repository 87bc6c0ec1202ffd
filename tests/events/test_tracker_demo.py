"""`journey tracker demo` really serves: the demo shop's page and tracker.js, a collector that lands an
event posted from the shop's origin, and a clean stop on Ctrl-C (the landing file closed), also when the
demo was started with SIGINT ignored (as a background job of a non-interactive shell is)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ingestion.events.landing import closed_landing_files
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_tracker_demo_serves_the_shop_and_a_collector(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / "events"
    shop_port, collector_port = free_port(), free_port()
    env = {**os.environ, "EVENTS_LANDING_DIR": str(landing), "COLLECTOR_WRITE_KEY": "k-demo"}
    # -X faulthandler: a stop that hangs is aborted below, and the dump of every thread says where
    command = [sys.executable, "-X", "faulthandler", "-m", "orchestration.cli", "tracker", "demo", "--port", str(shop_port),
               "--collector-port", str(collector_port), "--consent", "opt-in"]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while not any("Ctrl-C to stop" in line for line in output):
            assert proc.poll() is None, "".join(output)
            assert time.monotonic() < deadline, f"demo did not start: {''.join(output)}"
            try:
                output.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
        shop = f"http://127.0.0.1:{shop_port}"
        collector = f"http://127.0.0.1:{collector_port}"
        text = "".join(output)
        assert f"{shop}/" in text and str(landing) in text
        page = httpx.get(f"{shop}/", timeout=10)
        assert page.status_code == 200
        assert collector in page.text and '"consent": "opt-in"' in page.text and "consent-banner" in page.text
        assert "journey.loaded" in httpx.get(f"{shop}/demo.js", timeout=10).text
        assert "journey-tracker.js" in httpx.get(f"{shop}/tracker.js", timeout=10).text
        event = {"messageId": str(uuid.uuid4()), "type": "track", "event": "Demo Check", "anonymousId": "a-1",
                 "timestamp": datetime.now(UTC).isoformat()}  # fmt: skip
        answer = httpx.post(
            f"{collector}/v1/batch",
            content=json.dumps({"writeKey": "k-demo", "batch": [event]}),
            headers={"Origin": shop, "Content-Type": "text/plain"},
            timeout=10,
        )
        assert answer.json() == {"success": True, "accepted": 1}
        assert answer.headers["access-control-allow-origin"] == shop
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            proc.wait(timeout=10)
    time.sleep(0.2)  # the reader thread drains what the process wrote last
    while not lines.empty():
        output.append(lines.get())
    assert proc.returncode == 0, "".join(output)
    landed = b"".join(p.read_bytes() for p in closed_landing_files(landing))
    assert b'"Demo Check"' in landed
