"""Server-side events: a small client of the collector's `POST /v1/batch`, shaped like Segment's analytics-python.

Why a client of our own: a backend (refunds, subscription renewals, a support tool) knows things no
browser sees, and must not lose them when the collector is briefly unavailable. So this client batches,
retries what can succeed later (network errors, 429, 5xx, honouring `Retry-After`), never retries what
cannot (401: wrong write key; 400: invalid events, whose reasons are raised as they were answered), and
never drops events silently: when retries run out, `flush()` raises and the events stay queued for the
next flush. A caller may give its own `message_id` (e.g. the refund id): re-sending after a crash is then
deduplicated by the loader (`events.events` is keyed by messageId).

    with EventClient("https://collect.example", write_key) as events:
        events.track("Order Refunded", {"order_id": "1001", "revenue": -25.0}, user_id="42",
                     message_id="refund-1001")

Events are marked `context.channel = "server"` and `context.library = {"name": "journey-python", ...}`.
Batches respect the collector's limits (CollectorConfig: 32 KB per event, 500 KB per request).
Calls may come from several threads (one lock; a call waits while another thread's flush is sending).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson
import requests

from ingestion.common.http import ApiClient, SourceAPIError
from ingestion.events.collector.config import MAX_BATCH_BYTES, MAX_EVENT_BYTES

LIBRARY = {"name": "journey-python", "version": "1"}
CHANNEL = "server"
# bytes of the request around the events: {"batch":[...],"sentAt":"2025-01-02T10:00:00.000Z"}
_ENVELOPE_BYTES = 64
# the collector copies the batch's sentAt into each event before measuring it: ,"sentAt":"…"
_SENT_AT_BYTES = 40


class CollectorError(Exception):
    """Events could not be delivered to the collector (the subclasses say why)."""


class WriteKeyRejected(CollectorError):
    """401/403: the collector refused the write key (or origin). Not retried; the events stay queued."""

    def __init__(self, status: int, error: str, pending: int) -> None:
        self.status, self.error, self.pending = status, error, pending
        super().__init__(
            f"collector answered {status} ({error}): check the write key; {pending} event(s) kept"
        )


class EventsRejected(CollectorError):
    """400: the collector refused these events as invalid (resending cannot help, so they are dropped
    from the queue); the valid events of the same requests were landed. `rejected` holds the
    collector's answer per event: {"messageId", "event", "reason"}; `error` a whole-request reason."""

    def __init__(self, rejected: list[dict[str, Any]], errors: list[str], accepted: int) -> None:
        self.rejected, self.errors, self.accepted = rejected, errors, accepted
        parts = [f"{r['messageId']} ({r['event'] or 'no event name'}): {r['reason']}" for r in rejected]
        super().__init__("collector rejected events: " + "; ".join(parts + errors))


class DeliveryFailed(CollectorError):
    """Retries ran out (`status` is the last HTTP status, None for a network error). The events are
    still queued: a later `flush()` sends them again."""

    def __init__(self, status: int | None, detail: str, attempts: int, pending: int) -> None:
        self.status, self.detail, self.attempts, self.pending = status, detail, attempts, pending
        what = f"HTTP {status}" if status is not None else "network error"
        super().__init__(
            f"collector delivery failed after {attempts} attempt(s): {what} ({detail}); "
            f"{pending} event(s) kept queued for the next flush"
        )


class EventTooLarge(ValueError):
    """One event is larger than the collector accepts; it is refused before it is queued."""


class QueueFull(CollectorError):
    """`max_queue` events are waiting for delivery: flush (or fix the collector) before adding more."""


@dataclass
class _Queued:
    message_id: str
    data: bytes  # the event's JSON, serialised once when it is queued


def _iso(ts: datetime | str | None) -> str:
    """The tracker's timestamp shape (ms, `Z`); naive datetimes are taken as UTC, strings kept as given."""
    if isinstance(ts, str):
        return ts
    ts = ts or datetime.now(UTC)
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


class _Answered(Exception):
    """A 400: the collector's final answer for a request (its reasons), handed back to `flush`."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__("collector answered 400")
        self.answer = answer


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {"error": response.text[:200]}
    return answer if isinstance(answer, dict) else {"error": str(answer)[:200]}


class EventClient:
    """Queue events and deliver them in batches to `collector_url`'s `POST /v1/batch`.

    `batch_size` events trigger a send (so `track` may raise what `flush` raises; the events stay
    queued); `flush()` sends everything queued; `close()` flushes and closes the connection pool.
    `max_retries` retries after the first attempt, through the connectors' retry loop
    (`ingestion.common.http.ApiClient`): `Retry-After` when the collector sends one (at most
    `max_backoff`), else min(max_backoff, backoff * 2**n). `sleep` exists so tests need not wait;
    `session` to bring a configured `requests.Session` (proxies, certificates).
    """

    def __init__(
        self,
        collector_url: str,
        write_key: str,
        *,
        batch_size: int = 100,
        max_retries: int = 5,
        timeout: float = 10.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_queue: int = 10_000,
        max_event_bytes: int = MAX_EVENT_BYTES,
        max_request_bytes: int = MAX_BATCH_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        if not write_key:
            raise ValueError("write_key is required (the collector's COLLECTOR_WRITE_KEY)")
        if batch_size < 1 or max_retries < 0:
            raise ValueError("batch_size must be >= 1 and max_retries >= 0")
        self.batch_size = batch_size
        self.max_queue = max_queue
        self.max_event_bytes = max_event_bytes - _SENT_AT_BYTES
        self.max_request_bytes = max_request_bytes - _ENVELOPE_BYTES
        self._queue: list[_Queued] = []
        self._lock = threading.RLock()
        self._closed = False
        http = session or requests.Session()
        http.auth = (write_key, "")  # Basic auth, like Segment's libraries
        self._http = ApiClient(
            source="collector",
            base_url=collector_url,
            headers={"content-type": "application/json", "user-agent": "journey-python/1"},
            max_attempts=max_retries + 1,
            backoff=backoff,
            max_wait=max_backoff,
            timeout=timeout,
            fatal=self._final_answer,
            session=http,
            sleep=sleep,
        )

    # -- the Segment-like calls ---------------------------------------------------------------------
    def track(
        self,
        event: str,
        properties: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        timestamp: datetime | str | None = None,
        message_id: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        """Queue a track event; returns its messageId."""
        if not event:
            raise ValueError("track needs an event name")
        body = {"type": "track", "event": event, "properties": dict(properties or {})}
        return self._enqueue(body, user_id, anonymous_id, timestamp, message_id, context)

    def identify(
        self,
        user_id: str,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        timestamp: datetime | str | None = None,
        message_id: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        """Queue an identify event (traits' `email`/`phone` are hashed by the collector before landing)."""
        body = {"type": "identify", "traits": dict(traits or {})}
        return self._enqueue(body, user_id, anonymous_id, timestamp, message_id, context)

    def page(
        self,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        timestamp: datetime | str | None = None,
        message_id: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        """Queue a page view (a server-rendered page); `url`/`path`/`referrer`/`title` of `properties`
        also go to `context.page`, where the loader reads them."""
        props = dict(properties or {})
        if name is not None:
            props.setdefault("name", name)
        ctx = dict(context or {})
        page = {k: props[k] for k in ("url", "path", "referrer", "title") if k in props}
        if page:
            ctx["page"] = {**page, **(ctx.get("page") or {})}
        body: dict[str, Any] = {"type": "page", "properties": props}
        if name is not None:
            body["name"] = name
        return self._enqueue(body, user_id, anonymous_id, timestamp, message_id, ctx)

    # -- delivery ---------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Events queued and not yet acknowledged by the collector."""
        with self._lock:
            return len(self._queue)

    def unsent(self) -> list[dict[str, Any]]:
        """The queued events as they will be sent: what a caller may persist when it must stop after a
        DeliveryFailed (a new client can `track` them again with the same messageIds)."""
        with self._lock:
            return [orjson.loads(q.data) for q in self._queue]

    def flush(self) -> int:
        """Send every queued event; returns how many the collector accepted.

        Raises WriteKeyRejected or DeliveryFailed (events kept queued, nothing later in the queue is
        sent), or EventsRejected after all requests were sent (the invalid events are dropped, the
        reasons are in the exception)."""
        with self._lock:
            accepted = 0
            rejected: list[dict[str, Any]] = []
            errors: list[str] = []
            while self._queue:
                chunk = self._next_chunk()
                try:
                    outcome = self._send(chunk)
                except CollectorError as exc:
                    if rejected or errors:  # the earlier 400s are not lost: they are the cause
                        raise exc from EventsRejected(rejected, errors, accepted)
                    raise
                del self._queue[: len(chunk)]
                accepted += int(outcome.get("accepted") or 0)
                rejected += self._named(chunk, outcome.get("rejected") or [])
                if outcome.get("error"):  # a whole request refused (its events are all invalid)
                    errors.append(f"{len(chunk)} event(s): {outcome['error']}")
            if rejected or errors:
                raise EventsRejected(rejected, errors, accepted)
            return accepted

    def close(self) -> None:
        """Flush, then release the connection pool (also when the flush raises: the events it kept
        are reported by that exception, and the client is no longer usable)."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._http.session.close()

    def __enter__(self) -> EventClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------
    def _enqueue(
        self,
        body: dict[str, Any],
        user_id: str | None,
        anonymous_id: str | None,
        timestamp: datetime | str | None,
        message_id: str | None,
        context: Mapping[str, Any] | None,
    ) -> str:
        if self._closed:
            raise CollectorError("the client is closed")
        if not user_id and not anonymous_id:
            raise ValueError("user_id or anonymous_id is required")
        mid = message_id or str(uuid.uuid4())
        event = {
            "messageId": mid,
            **body,
            "timestamp": _iso(timestamp),
            "context": {**(context or {}), "channel": CHANNEL, "library": dict(LIBRARY)},
        }
        if user_id:
            event["userId"] = str(user_id)
        if anonymous_id:
            event["anonymousId"] = str(anonymous_id)
        data = orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)
        if len(data) > self.max_event_bytes:
            raise EventTooLarge(
                f"event {mid} is {len(data)} bytes; the collector accepts {self.max_event_bytes + _SENT_AT_BYTES}"
            )
        with self._lock:
            if len(self._queue) >= self.max_queue:
                raise QueueFull(f"{len(self._queue)} events wait for delivery: flush() before adding more")
            self._queue.append(_Queued(mid, data))
            full = len(self._queue) >= self.batch_size
        if full:
            self.flush()
        return mid

    def _next_chunk(self) -> list[_Queued]:
        """The head of the queue that fits one request: at most batch_size events and max_request_bytes."""
        chunk: list[_Queued] = []
        size = 0
        for item in self._queue[: self.batch_size]:
            cost = len(item.data) + 1  # the comma
            if chunk and size + cost > self.max_request_bytes:
                break
            chunk.append(item)
            size += cost
        return chunk

    def _named(self, chunk: list[_Queued], problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for p in problems:
            index = p.get("index")
            mid = p.get("messageId")
            if mid is None and isinstance(index, int) and 0 <= index < len(chunk):
                mid = chunk[index].message_id
            event = None
            if isinstance(index, int) and 0 <= index < len(chunk):
                event = orjson.loads(chunk[index].data).get("event")
            out.append({"messageId": mid, "event": event, "reason": p.get("reason")})
        return out

    def _final_answer(self, response: requests.Response) -> Exception | None:
        """ApiClient's `fatal`: what retrying cannot change. A 400 is the collector's verdict on the
        events (handed back to `flush`); a 401/403 a wrong write key or origin."""
        if response.status_code == 400:
            answer = _json(response)
            if not answer.get("rejected") and not answer.get("error"):
                answer["error"] = "HTTP 400 without reasons"  # a proxy's answer: never dropped silently
            return _Answered(answer)
        if response.status_code in (401, 403):
            detail = str(_json(response).get("error") or response.reason)
            return WriteKeyRejected(response.status_code, detail, len(self._queue))
        return None

    def _send(self, chunk: list[_Queued]) -> dict[str, Any]:
        """POST one batch until it is answered for good; returns the collector's JSON answer.

        200 and 400 are final (the 400's answer is returned for the caller to raise); 401/403 and
        other 4xx raise at once; network errors, 429 and 5xx are retried (ApiClient)."""
        body = (
            b'{"batch":[' + b",".join(q.data for q in chunk) + b'],"sentAt":"' + _iso(None).encode() + b'"}'
        )
        try:
            answer = self._http.request_json("POST", "/v1/batch", data=body)
        except _Answered as answered:
            return answered.answer
        except SourceAPIError as exc:
            detail = str(_json_text(exc.detail).get("error") or exc.detail[:200])
            raise DeliveryFailed(exc.status, detail, exc.attempts, len(self._queue)) from exc
        return answer if isinstance(answer, dict) else {"error": str(answer)[:200]}


def _json_text(text: str) -> dict[str, Any]:
    try:
        answer = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return answer if isinstance(answer, dict) else {}
