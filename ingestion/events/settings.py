"""Tracked events settings: where the collector's landing files are, and whether events are configured."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ingestion.common.sources import SourceStatus
from ingestion.events.landing import sandbox_landing_dir


def events_status(env: Mapping[str, str] | None = None) -> SourceStatus:
    """Configured when EVENTS_LANDING_DIR is set (the collector may not have written there yet), or when
    the simulated shop's landing directory exists (the sandbox writes it)."""
    env = os.environ if env is None else env
    if env.get("EVENTS_LANDING_DIR"):
        return SourceStatus("events", True, f"EVENTS_LANDING_DIR={env['EVENTS_LANDING_DIR']}")
    sandbox = sandbox_landing_dir(env)
    if sandbox.is_dir():
        return SourceStatus("events", True, f"the sandbox's landing directory {sandbox}")
    return SourceStatus("events", False, "set EVENTS_LANDING_DIR (where `journey collector serve` writes)")
