"""The collector: Segment-style HTTP endpoints that make accepted events durable before answering.

It never talks to the warehouse, so it keeps accepting while Postgres is down; the loader picks the
landing files up later. Endpoints: `POST /v1/batch`, `/v1/track`, `/v1/page`, `/v1/identify`
(+ `GET /health`: `{"ok": true}`, nothing about the machine). Answers: 200 when every event was
landed (written and fsynced); 400 with a reason per invalid event (the valid events of the same
batch are still landed, the invalid ones go to the quarantine file); 401 for a missing/wrong write
key; 403 for an origin outside the CORS allowlist; 503 (Retry-After) when the landing files cannot be
written (disk full, I/O error): nothing of that request is left in them. What "valid" means is
ingestion/events/validate.py, the rules the loader applies too, so an event answered 200 is an event
the loader loads. Accepted events are enriched (landing.enrich): server fields, `context.channel`
from a top-level `channel`, and emails/phones of traits and properties hashed (ingestion/events/pii.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingestion.events import validate
from ingestion.events.collector.config import CollectorConfig
from ingestion.events.collector.writer import FileWrite, RotatingJsonlWriter, recover_open_files
from ingestion.events.landing import enrich
from ingestion.warehouse.pii import pii_salt

log = logging.getLogger(__name__)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


class _TooLarge(Exception):
    def __init__(self, head: bytes) -> None:
        self.head = head


RETRY_AFTER_S = 5


class Collector:
    """State of one collector: config and the landing and quarantine writers.

    `file_write` (default `os.write`) is where the writers hand bytes to the file system; tests pass a
    function that fills up like a real disk.
    """

    def __init__(self, config: CollectorConfig, *, file_write: FileWrite = os.write) -> None:
        self.config = config
        self.pii_salt = pii_salt()  # read once: every event of this process hashes with the same salt
        recover_open_files(config.landing_dir)
        recover_open_files(config.quarantine)
        self.landing = RotatingJsonlWriter(
            config.landing_dir, "collector", config.rotate_bytes, config.rotate_seconds, file_write=file_write
        )
        self.quarantine = RotatingJsonlWriter(
            config.quarantine, "quarantine", config.rotate_bytes, config.rotate_seconds, file_write=file_write
        )

    def close(self) -> None:
        self.landing.close()
        self.quarantine.close()

    # -- request handling -----------------------------------------------------------------------
    def authorized(self, request: Request, body: Any) -> bool:
        key = self.config.write_key
        if not key:
            return True
        candidates: list[str] = []
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                candidates.append(base64.b64decode(auth[6:].strip()).decode().split(":", 1)[0])
        if request.headers.get("x-write-key"):
            candidates.append(request.headers["x-write-key"])
        if isinstance(body, dict) and isinstance(body.get("writeKey"), str):
            candidates.append(body["writeKey"])  # sendBeacon cannot set headers
        return any(secrets.compare_digest(c.encode(), key.encode()) for c in candidates)

    def origin_allowed(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        allowed = self.config.cors_origins
        return not origin or not allowed or "*" in allowed or origin.rstrip("/") in allowed

    async def read_body(self, request: Request) -> bytes:
        limit = self.config.max_batch_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise _TooLarge(b"".join(chunks)[: self.config.quarantine_raw_bytes])
        return b"".join(chunks)

    async def quarantine_request(self, endpoint: str, raw: bytes, reason: str, now: datetime) -> None:
        """Keep an invalid request for inspection. Best effort: the client gets its 400 either way, as
        resending a bad request cannot help (a failure is logged)."""
        keep = raw[: self.config.quarantine_raw_bytes]
        record = {
            "receivedAt": _iso(now),
            "endpoint": endpoint,
            "reason": reason,
            "index": None,
            "messageId": None,
            "raw": keep.decode("utf-8", "replace"),
            "rawTruncated": len(keep) < len(raw),
            "rawBytes": len(raw),
        }
        try:
            await run_in_threadpool(self.quarantine.write, now.date().isoformat(), [orjson.dumps(record)])
        except OSError as exc:
            log.error("quarantine copy of an invalid %s request lost: %s", endpoint, exc)

    async def handle(self, request: Request, endpoint: str) -> Response:
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # = the landed receivedAt
        if not self.origin_allowed(request):
            return JSONResponse({"success": False, "error": "origin not allowed"}, status_code=403)
        try:
            raw = await self.read_body(request)
        except _TooLarge as exc:
            if not self.authorized(request, None) and self.config.write_key:
                return JSONResponse({"success": False, "error": "invalid write key"}, status_code=401)
            reason = f"payload larger than {self.config.max_batch_bytes} bytes"
            await self.quarantine_request(endpoint, exc.head, reason, now)
            return JSONResponse({"success": False, "error": reason}, status_code=400)
        body, reason = validate.parse_json(raw)
        if reason is None and not isinstance(body, dict):
            reason = "body is not a JSON object"
        if not self.authorized(request, body):
            return JSONResponse({"success": False, "error": "invalid write key"}, status_code=401)
        if reason is None and endpoint == "batch" and not isinstance(body.get("batch"), list):
            reason = "batch missing or not a list"
        if reason is not None:
            await self.quarantine_request(endpoint, raw, reason, now)
            return JSONResponse({"success": False, "error": reason}, status_code=400)
        return await self.accept(body, endpoint, now)

    async def accept(self, body: dict[str, Any], endpoint: str, now: datetime) -> Response:
        if endpoint == "batch":
            events = body["batch"]
            shared_context = body.get("context") if isinstance(body.get("context"), dict) else None
            shared_sent_at = body.get("sentAt")
        else:
            events = [{k: v for k, v in body.items() if k != "writeKey"}]
            events[0].setdefault("type", endpoint)
            shared_context, shared_sent_at = None, None
        received = _iso(now)
        good: list[bytes] = []
        bad: list[bytes] = []
        problems: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            raw: bytes | None = None
            if isinstance(event, dict):
                event.pop("writeKey", None)
                if shared_sent_at is not None:
                    event.setdefault("sentAt", shared_sent_at)
                context = event.get("context")
                if shared_context and (context is None or isinstance(context, dict)):
                    event["context"] = {**shared_context, **(context or {})}
                if endpoint != "batch" and event.get("type") != endpoint:
                    reason: str | None = f"type {event.get('type')!r} posted to /v1/{endpoint}"
                else:
                    raw, reason = self.event_reason(event, now)
            else:
                reason = validate.NOT_OBJECT
            if reason is None:
                good.append(orjson.dumps(enrich(event, received, self.pii_salt)))
                continue
            mid = event.get("messageId") if isinstance(event, dict) else None
            mid = mid if isinstance(mid, str) else None
            problems.append({"index": index, "messageId": mid, "reason": reason})
            raw = raw if raw is not None else validate.dumps_for_quarantine(event)
            keep = raw[: self.config.quarantine_raw_bytes]
            bad.append(
                orjson.dumps(
                    {
                        "receivedAt": received,
                        "endpoint": endpoint,
                        "reason": reason,
                        "index": index,
                        "messageId": mid,
                        "raw": keep.decode("utf-8", "replace"),
                        "rawTruncated": len(keep) < len(raw),
                        "rawBytes": len(raw),
                    }  # fmt: skip
                )
            )
        day = now.date().isoformat()
        if good:
            try:
                await run_in_threadpool(self.landing.write, day, good)
            except OSError as exc:
                # not acknowledged, and nothing of it left in the landing file: the client resends
                log.error("landing write failed, answering 503: %s", exc)
                return JSONResponse(
                    {"success": False, "error": f"events could not be stored ({exc.strerror or exc}); retry"},
                    status_code=503,
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
        if bad:
            try:
                await run_in_threadpool(self.quarantine.write, day, bad)
            except OSError as exc:  # the 400 stands: resending invalid events cannot help
                log.error("quarantine copy of %d invalid event(s) lost: %s", len(bad), exc)
            return JSONResponse(
                {"success": False, "accepted": len(good), "rejected": problems}, status_code=400
            )
        return JSONResponse({"success": True, "accepted": len(good)})

    def event_reason(self, event: dict[str, Any], now: datetime) -> tuple[bytes | None, str | None]:
        """(the event's JSON, why it is refused or None): the shared rules of
        ingestion/events/validate.py plus the collector's own size limit."""
        try:
            raw: bytes | None = orjson.dumps(event)
        except orjson.JSONEncodeError:
            raw = None  # nested deeper than orjson writes, or a lone surrogate: structure_reason says which
        reason = validate.structure_reason(event, raw)
        if reason is None and raw is None:
            reason = "event cannot be written as JSON"
        if reason is None and len(raw) > self.config.max_event_bytes:
            reason = f"event larger than {self.config.max_event_bytes} bytes"
        return raw, reason or validate.event_reason(event, now)


def create_app(config: CollectorConfig | None = None, *, file_write: FileWrite = os.write) -> Starlette:
    """The ASGI app; `config` defaults to `CollectorConfig.from_env()` (`file_write`: see Collector)."""
    collector = Collector(config or CollectorConfig.from_env(), file_write=file_write)

    async def rotate_forever() -> None:
        interval = max(0.2, min(30.0, collector.config.rotate_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            await run_in_threadpool(collector.landing.rotate_expired)
            await run_in_threadpool(collector.quarantine.rotate_expired)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(rotate_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            collector.close()

    def endpoint(name: str):
        async def handler(request: Request) -> Response:
            return await collector.handle(request, name)

        return handler

    async def health(request: Request) -> Response:
        # reachable by anyone who can post events: no paths, hosts or settings in the answer
        return JSONResponse({"ok": True})

    routes = [
        Route(f"/v1/{name}", endpoint(name), methods=["POST"])
        for name in ("batch", "track", "page", "identify")
    ]
    routes.append(Route("/health", health, methods=["GET"]))
    cors = collector.config.cors_origins
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(cors) or ["*"],
            allow_methods=["POST", "OPTIONS"],
            allow_headers=["content-type", "authorization", "x-write-key"],
            max_age=600,
        )
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.collector = collector
    return app
