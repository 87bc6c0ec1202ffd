"""Headless Chromium for the browser tests: Debian's package, driven over the DevTools protocol.

Chromium is Debian's package; the `chromium` fixture installs it when missing (as root) and fails loudly
otherwise. The browser is driven over the DevTools protocol (websocket) on a private profile. The
fixtures are registered by tests/events/conftest.py.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import free_port

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0:
            pytest.fail(f"{CHROMIUM} is missing; install it with `sudo apt-get install -y chromium`")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, env=env, capture_output=True)
    assert shutil.which(CHROMIUM), f"{CHROMIUM} not installed"
    return CHROMIUM


class DevTools:
    """The few DevTools-protocol calls the test needs, over one page target's websocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except AssertionError:
                value = None  # page navigating: the context is gone for a moment
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[DevTools]:
    port = free_port()
    proc = subprocess.Popen(
        [
            chromium,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        targets: list[dict] = []
        while time.monotonic() < deadline and not targets:
            try:
                targets = [
                    t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page"
                ]
            except httpx.HTTPError:
                time.sleep(0.2)
        assert targets, "chromium did not expose a page target"
        with connect(targets[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=20) as ws:
            yield DevTools(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
