"""The GA4 Data API's property quotas as the emulator keeps them: token buckets per day (refilled at
midnight Pacific time, as Google documents) and per hour, the per-project share of the hourly tokens,
concurrent requests, and requests that may be thresholded.

Google's standard-property limits are the defaults (developers.google.com/analytics/devguides/
reporting/data/v1/quotas): 200,000 tokens a day, 40,000 an hour, 14,000 per project an hour, 10
concurrent requests, 10 server errors per project an hour, 120 potentially thresholded requests an hour.
Google does not publish how many tokens a request costs ("most requests consume fewer than 10"); the
emulator's rule is `cost()` below. A test lowers the limits through the control route to exhaust them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")
DEFAULT_LIMITS = {
    "tokensPerDay": 200_000,
    "tokensPerHour": 40_000,
    "tokensPerProjectPerHour": 14_000,
    "concurrentRequests": 10,
    "serverErrorsPerProjectPerHour": 10,
    "potentiallyThresholdedRequestsPerHour": 120,
}
LEARN_MORE = "To learn more, see https://developers.google.com/analytics/devguides/reporting/data/v1/quotas"
# the 429 messages Google sends when a quota is spent
EXHAUSTED = {
    "tokensPerDay": f"Exhausted property tokens per day. These quota tokens will return in under 24 hours. {LEARN_MORE}",
    "tokensPerHour": f"Exhausted property tokens per hour. These quota tokens will return in under an hour. {LEARN_MORE}",
    "tokensPerProjectPerHour": "Exhausted property tokens for a project per hour. These quota tokens will "
    f"return in under an hour. {LEARN_MORE}",
    "concurrentRequests": "Exhausted concurrent requests quota.",
    "potentiallyThresholdedRequestsPerHour": "Exhausted potentially thresholded requests quota.",
}
TOKEN_QUOTAS = ("tokensPerDay", "tokensPerHour", "tokensPerProjectPerHour")


def cost(rows_returned: int, days: int) -> int:
    """Tokens one runReport costs in the emulator: grows with rows and with the date span."""
    return 1 + rows_returned // 1000 + days // 366


@dataclass
class PropertyQuota:
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    used: dict[str, int] = field(default_factory=dict)
    hour: str = ""
    day: str = ""
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _roll(self, now: datetime) -> None:
        """Hourly buckets refill at the top of the hour, daily ones at midnight Pacific time."""
        hour = now.astimezone(UTC).strftime("%Y-%m-%dT%H")
        day = now.astimezone(PACIFIC).date().isoformat()
        if hour != self.hour:
            self.hour = hour
            for name in self.limits:
                if name.endswith("PerHour"):
                    self.used[name] = 0
        if day != self.day:
            self.day = day
            self.used["tokensPerDay"] = 0

    def set_limits(self, limits: dict[str, int] | None) -> None:
        """New limits (missing names keep Google's defaults) and empty buckets."""
        with self.lock:
            self.limits = {**DEFAULT_LIMITS, **{k: int(v) for k, v in (limits or {}).items()}}
            self.used.clear()
            self.hour = self.day = ""

    def remaining(self, name: str) -> int:
        return max(self.limits[name] - self.used.get(name, 0), 0)

    def admit(self, thresholded: bool, now: datetime | None = None) -> str | None:
        """None when the request may run (it then counts as in flight), else the quota that is spent."""
        with self.lock:
            self._roll(now or datetime.now(UTC))
            for name in TOKEN_QUOTAS:
                if self.remaining(name) <= 0:
                    return name
            if self.in_flight >= self.limits["concurrentRequests"]:
                return "concurrentRequests"
            if thresholded and self.remaining("potentiallyThresholdedRequestsPerHour") <= 0:
                return "potentiallyThresholdedRequestsPerHour"
            self.in_flight += 1
            return None

    def charge(self, tokens: int, thresholded: bool) -> dict[str, dict[str, int]]:
        """Deduct one served request; returns `propertyQuota` as Google renders it (proto3 JSON omits
        zero `consumed`)."""
        with self.lock:
            self.in_flight = max(self.in_flight - 1, 0)
            consumed = {name: tokens for name in TOKEN_QUOTAS}
            if thresholded:
                consumed["potentiallyThresholdedRequestsPerHour"] = 1
            for name, amount in consumed.items():
                self.used[name] = self.used.get(name, 0) + amount
            quota = {}
            for name in DEFAULT_LIMITS:
                status = {"consumed": consumed.get(name, 0), "remaining": self.remaining(name)}
                if name == "concurrentRequests":
                    status = {"consumed": 0, "remaining": self.limits[name] - self.in_flight}
                quota[name] = {k: v for k, v in status.items() if v}
            return quota

    def release(self) -> None:
        """A request that was admitted but failed before it was served."""
        with self.lock:
            self.in_flight = max(self.in_flight - 1, 0)
