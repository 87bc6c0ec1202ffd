"""Warnings a load should surface beyond its log: the vendor served another API version than asked for,
a GA4 report was thresholded or sampled, a quota ran low.

Connectors call `notice(...)`: it always logs a warning, and when the caller collects (the Dagster asset
wraps its dlt run in `collect_notices()`), the notice is also kept so the asset can show it in its
materialization metadata. Without a collector (a plain `python -m ingestion...` run) the log is all.
Collection uses a context variable, so concurrent runs in one process keep their notices apart.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

_collector: contextvars.ContextVar[list[Notice] | None] = contextvars.ContextVar(
    "journey_notices", default=None
)


@dataclass(frozen=True)
class Notice:
    source: str
    code: str  # stable identifier, e.g. "api_version_mismatch", "report_thresholded"
    message: str  # what a person reads: what happened and what it means
    table: str | None = None  # the table it concerns, when it concerns one
    facts: dict[str, Any] = field(default_factory=dict)


def notice(source: str, code: str, message: str, table: str | None = None, **facts: Any) -> Notice:
    """Log a warning and keep it for the current collector (if any). Repeats of the same code and
    message within one collection are kept once."""
    item = Notice(source, code, message, table, facts)
    notices = _collector.get()
    if notices is not None and any((n.code, n.message) == (code, message) for n in notices):
        return item
    log.warning("%s: %s", source, message)
    if notices is not None:
        notices.append(item)
    return item


@contextmanager
def collect_notices() -> Iterator[list[Notice]]:
    """Collect the notices raised inside the block (and only those)."""
    notices: list[Notice] = []
    token = _collector.set(notices)
    try:
        yield notices
    finally:
        _collector.reset(token)
