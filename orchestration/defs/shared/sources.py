"""What every source's Dagster wrapper shares: a connection resource fed by EnvVar that can say whether
the source is configured, and the results an unconfigured source reports instead of failing.

Every source is optional. A job that selects an unconfigured source runs on: its assets report, per
table, `source_configured: false` and what to set (visible on the asset's page in the UI), the raw
tables keep their contract (created empty by `Warehouse.ensure_ready`), and dbt, ML and insights build
from what is there.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import dagster as dg

from ingestion.common.notices import Notice, collect_notices
from ingestion.common.sources import SourceStatus
from orchestration.defs.shared.resources import Warehouse, with_table_row_counts


class SourceResource(dg.ConfigurableResource):
    """Base of the sources' connection resources. Subclasses declare their fields (all optional), `ENV`
    (field -> variable) and `SETTINGS` (the ingestion package's settings class, with `from_env(**given)`
    and `status(env)`). Unset fields are read from the environment when used, not when the code
    location is imported, so a missing variable means "not configured", never a resource error."""

    ENV: ClassVar[dict[str, str]] = {}
    SETTINGS: ClassVar[Any] = None

    def given(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.ENV if getattr(self, name) is not None}

    def settings(self) -> Any:
        """Connector settings; tuning knobs (page size, backoff) still come from the environment."""
        return self.SETTINGS.from_env(**self.given())

    def status(self) -> SourceStatus:
        given = {self.ENV[name]: str(value) for name, value in self.given().items()}
        return self.SETTINGS.status({**os.environ, **given})

    @classmethod
    def from_environment(cls) -> SourceResource:
        """Fields as EnvVars for the variables set now (secrets stay out of run config); the others are
        left unset and resolved at run time."""
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for name, var in cls.ENV.items():
            if not os.environ.get(var):
                continue
            kind = hints.get(name)
            if kind == int | None:
                kwargs[name] = dg.EnvVar.int(var)
            elif kind == float | None:
                kwargs[name] = float(os.environ[var])
            else:
                kwargs[name] = dg.EnvVar(var)
        return cls(**kwargs)


def idle_source_results(
    context: dg.AssetExecutionContext, status: SourceStatus, warehouse: Warehouse
) -> Iterator[dg.MaterializeResult]:
    """One result per selected table of an unconfigured source: nothing loaded, the (contract) table's
    current row count, and why. Downstream dbt models then build from the empty tables."""
    context.log.warning(f"{status.source}: not configured, nothing loaded ({status.reason})")
    for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "source_configured": False,
                "not_configured_because": status.reason,
                "dagster/row_count": dg.MetadataValue.int(warehouse.table_rows(*key.path)),
            },
        )


def configured_metadata(status: SourceStatus) -> dict[str, Any]:
    return {"source_configured": True, "configured_by": status.reason}


def notice_metadata(notices: list[Notice], table: str) -> dict[str, Any]:
    """The notices that concern `table` (or the whole source) as materialization metadata: a count
    Dagster can plot and the messages to read."""
    mine = [n for n in notices if n.table in (None, table)]
    metadata: dict[str, Any] = {"notice_count": dg.MetadataValue.int(len(mine))}
    if mine:
        metadata["notices"] = dg.MetadataValue.md("\n".join(f"- **{n.code}**: {n.message}" for n in mine))
    return metadata


def load_dlt_source(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    api: SourceResource,
    dlt_resource: Any,
    build_source: Callable[[Any], Any],
    build_pipeline: Callable[[Any], Any],
    dataset: str,
) -> Iterator[Any]:
    """The body every dlt source asset shares: the warehouse and its raw contract ready, then either the
    idle results of an unconfigured source or the dlt run (`build_source(settings)` into
    `build_pipeline(warehouse settings)`), each table's materialization with its row count and the
    notices the connector raised (a served API version that differs, a thresholded report...)."""
    warehouse.ensure_ready()
    status = api.status()
    if not status.configured:
        yield from idle_source_results(context, status, warehouse)
        return
    with collect_notices() as notices:
        events = list(
            dlt_resource.run(
                context=context,
                dlt_source=build_source(api.settings()),
                dlt_pipeline=build_pipeline(warehouse.settings()),
            )
        )
    for event in with_table_row_counts(events, warehouse, dataset, configured_metadata(status)):
        yield event._replace(
            metadata={**event.metadata, **notice_metadata(notices, event.asset_key.path[-1])}
        )
