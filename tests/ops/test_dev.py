"""`journey dev`: serves the shop the warehouse holds (never a second one on top), prints its URL only
once the UI answers, and its code location loads without the heavy ML libraries.

No dev server here (too slow for `make test`): the functions `journey dev` uses, against marker files
in a temporary JOURNEY_LOCAL_DIR, a real warehouse database, and a tiny HTTP server standing in for
the webserver. The timing of a real `journey dev` is `BENCH_ONLY=dev_materialize make bench`.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from ingestion.warehouse import WarehouseSettings, init_warehouse
from orchestration.cli import DevServerError, wait_until_serving
from orchestration.demo import WorldMismatch, choose_dev_world, prepare_dev_world


# -- which shop --------------------------------------------------------------------------------
@pytest.fixture
def fresh_local(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("JOURNEY_LOCAL_DIR", str(tmp_path))
    return tmp_path


def _settings(local: Path, port: int = 55999) -> WarehouseSettings:
    return WarehouseSettings(port=port, data_dir=local / "warehouse")


def _record(local: Path, size: str, seed: int = 42, port: int = 55999) -> None:
    """The marker `journey demo` / `journey dev` write for the warehouse on `port`."""
    marker = {"warehouse": f"postgresql://postgres@127.0.0.1:{port}/journey", "size": size, "seed": seed}
    (local / "demo_world.json").write_text(json.dumps(marker))


def _world_on_disk(local: Path, size: str, seed: int) -> None:
    world = local / "sandbox" / size
    world.mkdir(parents=True)
    (world / "world.json").write_text(json.dumps({"size": size, "seed": seed}))


def test_a_fresh_machine_serves_the_default_or_the_asked_shop(fresh_local):
    assert choose_dev_world(_settings(fresh_local), None) == ("small", 42)
    assert choose_dev_world(_settings(fresh_local), "tiny") == ("tiny", 42)
    _record(fresh_local, "tiny", port=55998)  # a marker of another warehouse says nothing about this one
    assert choose_dev_world(_settings(fresh_local), None) == ("small", 42)


def test_without_size_dev_serves_the_shop_the_warehouse_holds(fresh_local):
    """`make demo SIZE=tiny` then `make dev`: the tiny shop, not the Makefile's old default `small`."""
    _record(fresh_local, "tiny", seed=7)
    assert choose_dev_world(_settings(fresh_local), None) == ("tiny", 7)  # regenerated with its seed
    _world_on_disk(fresh_local, "tiny", 7)
    assert choose_dev_world(_settings(fresh_local), None) == ("tiny", 7)
    assert choose_dev_world(_settings(fresh_local), "tiny") == ("tiny", 7)


def test_another_size_is_refused_with_the_commands_that_switch(fresh_local):
    _record(fresh_local, "tiny")
    with pytest.raises(WorldMismatch) as refused:
        choose_dev_world(_settings(fresh_local), "small")
    message = str(refused.value)
    assert "holds the 'tiny' shop (seed 42)" in message
    assert "make demo SIZE=small" in message
    assert "journey dev --size small --reset" in message
    assert "make dev " in message  # keeping the tiny one: no SIZE
    assert choose_dev_world(_settings(fresh_local), "small", reset=True) == ("small", 42)


def test_a_regenerated_world_with_another_seed_is_refused(fresh_local):
    """Same size, other seed: the emulators would serve a different shop than the warehouse holds."""
    _record(fresh_local, "tiny", seed=42)
    _world_on_disk(fresh_local, "tiny", 7)
    with pytest.raises(WorldMismatch, match="--seed 42"):
        choose_dev_world(_settings(fresh_local), None)
    assert choose_dev_world(_settings(fresh_local), None, reset=True) == ("tiny", 7)


@pytest.fixture
def dev_db(warehouse, local_dir):
    (local_dir / "demo_world.json").unlink(missing_ok=True)
    settings = dataclasses.replace(warehouse, database="journey_dev_tests")
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        conn.execute("drop database if exists journey_dev_tests with (force)")
        conn.execute("create database journey_dev_tests")
    init_warehouse(settings)
    yield settings
    (local_dir / "demo_world.json").unlink(missing_ok=True)


def _orders(settings: WarehouseSettings) -> int:
    with psycopg.connect(settings.role_url("admin")) as conn:
        if not conn.execute("select to_regclass('shopify.orders') is not null").fetchone()[0]:
            return 0
        return conn.execute("select count(*) from shopify.orders").fetchone()[0]


def test_unrecorded_raw_data_is_not_served_over_and_reset_only_when_asked(dev_db, tiny_world, local_dir):
    prepare_dev_world(dev_db, tiny_world)  # nothing loaded, nothing recorded: the shop is recorded
    marker = json.loads((local_dir / "demo_world.json").read_text())
    assert (marker["size"], marker["seed"]) == ("tiny", 42)

    (local_dir / "demo_world.json").unlink()
    with psycopg.connect(dev_db.role_url("admin")) as conn:
        conn.execute("create table if not exists shopify.orders (id text)")
        conn.execute("insert into shopify.orders (id) values ('gid://shopify/Order/1')")
    with pytest.raises(WorldMismatch, match="raw data no `journey demo` or `journey dev` recorded"):
        prepare_dev_world(dev_db, tiny_world)
    assert _orders(dev_db) == 1  # refused, nothing dropped
    prepare_dev_world(dev_db, tiny_world, reset=True)
    assert _orders(dev_db) == 0
    assert json.loads((local_dir / "demo_world.json").read_text())["size"] == "tiny"


# -- the URL once the UI answers ---------------------------------------------------------------
@contextmanager
def fake_webserver(answers_after: int, statuses: list[dict]) -> Iterator[str]:
    """/server_info answers 200 from the `answers_after`-th request on (503 before, as a socket that
    accepts but has no app yet); /graphql gives the location entries of `statuses` in turn."""
    calls = {"info": 0, "graphql": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest's output clean
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            calls["info"] += 1
            ok = self.path == "/server_info" and calls["info"] >= answers_after
            self._send(200 if ok else 503, {"dagster_webserver_version": "test"})

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            entry = statuses[min(calls["graphql"], len(statuses) - 1)]
            calls["graphql"] += 1
            self._send(200, {"data": {"workspaceOrError": {"locationEntries": [entry]}}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def running_child() -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


LOADING = {"name": "customer_journey", "loadStatus": "LOADING", "locationOrLoadError": None}
LOADED = {"name": "customer_journey", "loadStatus": "LOADED", "locationOrLoadError": {"__typename": "Repo"}}


def test_the_url_waits_for_the_webserver_and_the_code_location(running_child):
    said: list[str] = []
    with fake_webserver(answers_after=3, statuses=[LOADING, LOADING, LOADED]) as url:
        error = wait_until_serving(url, running_child, timeout=20, say=said.append, poll=0.05, every=0.0)
    assert error is None
    assert any("starting the webserver" in s for s in said)
    assert any(s.startswith("loading the code location ...") for s in said)


def test_a_code_location_that_fails_to_load_is_reported(running_child):
    failed = {**LOADED, "locationOrLoadError": {"__typename": "PythonError", "message": "SyntaxError: x"}}
    with fake_webserver(answers_after=1, statuses=[failed]) as url:
        assert wait_until_serving(url, running_child, timeout=20, say=lambda _: None, poll=0.05) == (
            "SyntaxError: x"
        )


def test_a_dev_server_that_exits_before_answering_fails_loudly(tmp_path):
    exiting = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(DevServerError, match=r"exited \(code 3\)"):
        wait_until_serving("http://127.0.0.1:9", exiting, timeout=20, say=lambda _: None, poll=0.05)


def test_a_dev_server_that_never_answers_times_out(running_child):
    with pytest.raises(DevServerError, match="did not come up within"):
        wait_until_serving("http://127.0.0.1:9", running_child, timeout=0.3, say=lambda _: None, poll=0.05)
