"""Where the collector's landing files are: a resource so runs can point the asset elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from ingestion.common.sources import SourceStatus
from ingestion.events.landing import default_landing_dir
from ingestion.events.settings import events_status


class EventsLanding(dg.ConfigurableResource):
    """Landing directory of tracked events; unset = `<local_dir>/sandbox/<JOURNEY_SANDBOX_SIZE>/landing/events`."""

    landing_dir: str | None = Field(default=None, description="EVENTS_LANDING_DIR; unset = sandbox default")

    def path(self) -> Path:
        return Path(self.landing_dir).resolve() if self.landing_dir else default_landing_dir()

    def status(self) -> SourceStatus:
        given = {"EVENTS_LANDING_DIR": self.landing_dir} if self.landing_dir else {}
        return events_status({**os.environ, **given})


def events_landing_resource() -> EventsLanding:
    if os.environ.get("EVENTS_LANDING_DIR"):
        return EventsLanding(landing_dir=dg.EnvVar("EVENTS_LANDING_DIR"))
    return EventsLanding()
