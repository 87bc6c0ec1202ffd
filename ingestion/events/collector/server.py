"""Run the collector with uvicorn: in the foreground (`journey collector serve`) or in a thread (tests)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from ingestion.events.collector.app import create_app
from ingestion.events.collector.config import CollectorConfig


def serve(host: str = "127.0.0.1", port: int = 8700, config: CollectorConfig | None = None) -> None:
    """Serve until Ctrl-C; on shutdown the open landing files are closed (renamed to `.jsonl`)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_collector(config: CollectorConfig, port: int | None = None) -> Iterator[str]:
    """A collector on 127.0.0.1 in a background thread; yields its base URL, stops cleanly on exit."""
    with running_app(create_app(config), port) as url:
        yield url


@contextlib.contextmanager
def running_app(app: object, port: int | None = None) -> Iterator[str]:
    """Any ASGI app on 127.0.0.1 in a background thread (uvicorn); yields its base URL."""
    port = port or _free_port()
    server = uvicorn.Server(
        # a connection still open at Ctrl-C is cancelled after 5 s; the lifespan shutdown (which closes the
        # landing files) runs either way
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
        )
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
