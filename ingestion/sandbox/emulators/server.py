"""Run an ASGI app with uvicorn in a background thread on 127.0.0.1 (tests, the demo, `journey sandbox serve`)."""

from __future__ import annotations

import threading
import time

import uvicorn


class BackgroundServer:
    """A uvicorn server in a daemon thread; `port=0` picks a free port (read `.url` after `start`)."""

    def __init__(self, app, port: int = 0, host: str = "127.0.0.1") -> None:
        self._config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(self._config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.host = host
        self.port = port

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"emulator server on {self.host}:{self.port} did not start")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
