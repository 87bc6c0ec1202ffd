"""Collector settings, read from the environment (secrets such as the write key only from env)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.events.landing import default_landing_dir, default_quarantine_dir

# Transport limits (Segment's): a server-side client splits its batches by them (ingestion/events/client.py).
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024


def _origins(value: str | None) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in (value or "").split(",") if o.strip())


@dataclass(frozen=True)
class CollectorConfig:
    landing_dir: Path = field(default_factory=default_landing_dir)
    quarantine_dir: Path | None = None
    write_key: str | None = None
    cors_origins: tuple[str, ...] = ()  # empty = any origin may post (no browser restriction)
    max_event_bytes: int = MAX_EVENT_BYTES
    max_batch_bytes: int = MAX_BATCH_BYTES
    rotate_bytes: int = 64 * 1024 * 1024
    rotate_seconds: float = 300.0
    quarantine_raw_bytes: int = 64 * 1024  # raw input kept per quarantined request

    @property
    def quarantine(self) -> Path:
        return self.quarantine_dir or default_quarantine_dir(self.landing_dir)

    @classmethod
    def from_env(cls, **overrides: object) -> CollectorConfig:
        env = os.environ
        values: dict[str, object] = {
            "landing_dir": default_landing_dir(),
            "quarantine_dir": Path(env["EVENTS_QUARANTINE_DIR"])
            if env.get("EVENTS_QUARANTINE_DIR")
            else None,
            "write_key": env.get("COLLECTOR_WRITE_KEY") or None,
            "cors_origins": _origins(env.get("COLLECTOR_CORS_ORIGINS")),
            "max_event_bytes": int(env.get("COLLECTOR_MAX_EVENT_BYTES", MAX_EVENT_BYTES)),
            "max_batch_bytes": int(env.get("COLLECTOR_MAX_BATCH_BYTES", MAX_BATCH_BYTES)),
            "rotate_bytes": int(env.get("COLLECTOR_ROTATE_BYTES", 64 * 1024 * 1024)),
            "rotate_seconds": float(env.get("COLLECTOR_ROTATE_SECONDS", 300)),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
