"""Fault injection and request logging shared by every emulator.

Tests plan faults per emulator (`injector.plan("429", times=2)`) and read `injector.requests` to assert
what the connector asked for (e.g. that a second, incremental run only fetched changed data).
The middleware is pure ASGI so the same faults apply to any vendor's wire format.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field

FAULT_KINDS = ("429", "500", "502", "503", "slow", "drop", "malformed")


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    body: bytes
    status: int | None = None
    fault: str | None = None


@dataclass
class Fault:
    kind: str
    retry_after: float = 1.0  # seconds, for 429
    delay: float = 2.0  # seconds, for slow
    path_contains: str | None = None  # only requests whose path contains this


@dataclass
class FaultInjector:
    """Queue of faults consumed by matching requests, plus the log of every request served."""

    requests: list[RecordedRequest] = field(default_factory=list)
    _queue: deque[Fault] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, kind: str, times: int = 1, **kwargs) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULT_KINDS}")
        with self._lock:
            for _ in range(times):
                self._queue.append(Fault(kind=kind, **kwargs))

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    def next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._queue):
                if fault.path_contains is None or fault.path_contains in path:
                    del self._queue[i]
                    return fault
        return None

    @property
    def pending(self) -> int:
        return len(self._queue)


class FaultMiddleware:
    """ASGI middleware: records each request, then either injects the next planned fault or passes through."""

    def __init__(self, app, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        record = RecordedRequest(
            scope["method"], scope["path"], scope.get("query_string", b"").decode(), body
        )
        self.injector.requests.append(record)
        fault = self.injector.next_fault(scope["path"])

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        async def recording_send(message):
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        if fault is None:
            return await self.app(scope, replay, recording_send)
        record.fault = fault.kind
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            return await self.app(scope, replay, recording_send)
        if fault.kind == "drop":
            # promise a body, send part of it, then fail: the client sees the connection cut mid-response
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]}
            )
            await send({"type": "http.response.body", "body": b'{"data": {', "more_body": True})
            raise ConnectionAbortedError("emulator fault: connection dropped")
        if fault.kind == "malformed":
            record.status = 200
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"data": {"truncated": [1, 2,'})
            return None
        status = int(fault.kind)
        record.status = status
        headers = [(b"content-type", b"application/json")]
        if status == 429:
            headers.append((b"retry-after", str(fault.retry_after).encode()))
        payload = b'{"errors": "emulator fault: HTTP %d"}' % status
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        return None
