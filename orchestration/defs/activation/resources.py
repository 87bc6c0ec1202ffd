"""Which destinations a sync may write to: `ACTIVATION_DESTINATIONS` (comma-separated,
`meta_custom_audiences,shopify_tags`). Unset = none: every sync is a dry run that records and shows
what it would change, so configuring a source for ingestion never starts writing to the brand's ad
account or shop on its own."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from pydantic import Field

from ingestion.activation.segments import DESTINATIONS
from ingestion.activation.sync import LIVE_ENV as ENV
from ingestion.activation.sync import live_destinations
from orchestration.defs.shared.sources import SourceResource


class Activation(dg.ConfigurableResource):
    destinations: str | None = Field(
        default=None,
        description=(
            f"destinations syncs may write to ({', '.join(DESTINATIONS)}); unset = {ENV} at run time, "
            "and unset there = dry runs only"
        ),
    )

    def live(self) -> set[str]:
        return live_destinations(self.destinations if self.destinations is not None else os.environ.get(ENV))


def activation_resource() -> Activation:
    """Unset field: the variable is read when a sync runs, not when the code location loads, so
    opting in or out takes effect on the next run (no secret here to keep out of run config)."""
    return Activation()


def source_env(resource: SourceResource) -> dict[str, Any]:
    """The environment a source's settings read, with the resource's own values over it (the same
    view `SourceResource.status` takes), for the vendor clients' `from_env`."""
    return {**os.environ, **{resource.ENV[name]: str(value) for name, value in resource.given().items()}}
