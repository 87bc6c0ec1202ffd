"""Planted incidents (docs/sandbox.md, "Planted incidents"): a checkout bug on one device or a payment
outage over given dates, with the ground truth a detector is scored against (`incidents.json`).

Why a spec string: `journey sandbox generate --incident checkout_bug:2025-06-01:2025-06-21:mobile` is
what a test or a benchmark writes; world.json keeps the specs, so `advance` replays the same incidents
and a world stays a pure function of (size, seed, days, incidents).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ingestion.sandbox.shop.config import START_DATE
from ingestion.sandbox.shop.customers import DEVICES

CHECKOUT_BUG, PAYMENT_OUTAGE = "checkout_bug", "payment_outage"
# share of the exposed sessions that fail: a checkout bug breaks most mobile checkouts, not all
# (some browsers or payment buttons still work); a processor outage declines about every other payment
SHARE = {CHECKOUT_BUG: 0.6, PAYMENT_OUTAGE: 0.5}
# the funnel step whose rate the incident lowers: the step the failing sessions never reach
STEP = {CHECKOUT_BUG: "payment", PAYMENT_OUTAGE: "purchase"}
FORMS = {CHECKOUT_BUG: "checkout_bug:START:END:DEVICE", PAYMENT_OUTAGE: "payment_outage:START:END"}
START = dt.date.fromisoformat(str(START_DATE))


@dataclass(frozen=True)
class Incident:
    """One planted incident; `start`/`end` are UTC dates, both inclusive; `device` only for a bug."""

    kind: str
    start: dt.date
    end: dt.date
    device: str | None = None

    @property
    def spec(self) -> str:
        parts = [self.kind, self.start.isoformat(), self.end.isoformat()]
        return ":".join(parts + ([self.device] if self.device else []))

    @property
    def share(self) -> float:
        return SHARE[self.kind]

    @property
    def days(self) -> tuple[int, int]:
        """First and last day as offsets from the shop's start date (the generator's day numbers)."""
        return (self.start - START).days, (self.end - START).days

    def truth(self, sessions_affected: int, orders_lost: int) -> dict:
        """The incident's row of incidents.json."""
        return {
            "kind": self.kind, "spec": self.spec, "start": self.start.isoformat(), "end": self.end.isoformat(),
            "dimension": "device_type" if self.device else "all", "segment": self.device or "all",
            "step": STEP[self.kind], "share": self.share,
            "sessions_affected": int(sessions_affected), "orders_lost": int(orders_lost),
        }  # fmt: skip


def _date(text: str, what: str, spec: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"incident {spec!r}: {what} date {text!r} is not YYYY-MM-DD") from None


def parse_incident(spec: str) -> Incident:
    """An incident from its spec; a malformed spec raises ValueError saying what is wrong."""
    parts = spec.strip().split(":")
    kind = parts[0]
    if kind not in FORMS:
        raise ValueError(f"incident {spec!r}: unknown kind {kind!r}; expected {' or '.join(FORMS.values())}")
    expected = FORMS[kind].count(":") + 1
    if len(parts) != expected:
        raise ValueError(f"incident {spec!r}: expected {FORMS[kind]} ({expected} parts), got {len(parts)}")
    start, end = _date(parts[1], "start", spec), _date(parts[2], "end", spec)
    if end < start:
        raise ValueError(f"incident {spec!r}: end {end} is before start {start}")
    if start < START:
        raise ValueError(f"incident {spec!r}: starts before the shop opens ({START})")
    device = None
    if kind == CHECKOUT_BUG:
        device = parts[3]
        if device not in DEVICES:
            raise ValueError(f"incident {spec!r}: unknown device {device!r}; expected one of {DEVICES}")
    return Incident(kind=kind, start=start, end=end, device=device)


def parse_incidents(specs: list[str] | tuple[str, ...] | None) -> list[Incident]:
    """Incidents in the order given (duplicates are kept: each gets its own truth row)."""
    return [parse_incident(s) for s in specs or ()]
