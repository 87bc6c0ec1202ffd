"""Data-quality checks beyond dbt tests: row-count drop/spike and schema change on raw tables and key marts.

Each check reads the table in the warehouse, compares with the previous evaluation of the same check
(kept by Dagster in its own event log, so no extra table is needed) and records what it saw as metadata.
Both are non-blocking (the nightly run goes on) but show as failed checks with a precise description.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from orchestration.defs.shared.resources import Warehouse


@dataclass(frozen=True)
class WatchedTable:
    asset_key: dg.AssetKey
    schema: str
    table: str


def previous_metadata(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey) -> dict | None:
    """Metadata of the latest completed evaluation of `check_key`, or None for a first run."""
    for record in instance.event_log_storage.get_asset_check_execution_history(check_key, limit=5):
        event = record.event
        if event is None or event.dagster_event is None:
            continue
        data = event.dagster_event.event_specific_data
        metadata = getattr(data, "metadata", None)
        if metadata:
            return {k: v.value for k, v in metadata.items()}
    return None


def evaluate_row_count(
    previous: int | None, current: int, max_drop: float, max_spike: float
) -> tuple[bool, str]:
    """(passed, description). A drop beyond `max_drop` or growth beyond `max_spike` (fractions) fails."""
    if previous is None:
        return True, f"first observation: {current:,} rows"
    if previous == 0:
        return True, f"{current:,} rows (previously empty)"
    change = (current - previous) / previous
    text = f"{previous:,} -> {current:,} rows ({change:+.1%})"
    if change < -max_drop:
        return False, f"row count dropped beyond {max_drop:.0%}: {text}"
    if change > max_spike:
        return False, f"row count spiked beyond {max_spike:.0%}: {text}"
    return True, text


def evaluate_schema(previous: dict[str, str] | None, current: dict[str, str]) -> tuple[bool, str]:
    """(passed, description). Removed columns or changed types fail; added columns pass but are named."""
    if previous is None:
        return True, f"first observation: {len(current)} columns"
    removed = sorted(set(previous) - set(current))
    changed = sorted(c for c in set(previous) & set(current) if previous[c] != current[c])
    added = sorted(set(current) - set(previous))
    parts = []
    if removed:
        parts.append("removed: " + ", ".join(removed))
    if changed:
        parts.append("type changed: " + ", ".join(f"{c} {previous[c]} -> {current[c]}" for c in changed))
    if added:
        parts.append("added: " + ", ".join(added))
    return not (removed or changed), "; ".join(parts) or "no change"


def build_quality_checks(
    tables: Sequence[WatchedTable], max_drop: float = 0.10, max_spike: float = 3.0
) -> list[dg.AssetChecksDefinition]:
    """Two checks per table: `row_count_change` and `schema_change`."""
    checks: list[dg.AssetChecksDefinition] = []
    for t in tables:
        checks.append(_row_count_check(t, max_drop, max_spike))
        checks.append(_schema_check(t))
    return checks


def _row_count_check(t: WatchedTable, max_drop: float, max_spike: float) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=t.asset_key,
        name="row_count_change",
        blocking=False,
        description=(
            f"{t.schema}.{t.table} does not shrink by more than {max_drop:.0%} (ERROR) or grow by more "
            f"than {max_spike:.0%} (WARN) since the previous evaluation"
        ),
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        current = warehouse.row_count(t.schema, t.table)
        prev = previous_metadata(context.instance, dg.AssetCheckKey(t.asset_key, "row_count_change"))
        passed, text = evaluate_row_count(
            prev.get("row_count") if prev else None, current, max_drop, max_spike
        )
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR if "dropped" in text else dg.AssetCheckSeverity.WARN,
            description=text,
            metadata={"row_count": dg.MetadataValue.int(current)},
        )

    return _check


def _schema_check(t: WatchedTable) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=t.asset_key,
        name="schema_change",
        blocking=False,
        description=f"columns of {t.schema}.{t.table} are not removed or retyped between runs",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect("admin") as conn:
            rows = conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = %s and table_name = %s order by ordinal_position",
                (t.schema, t.table),
            ).fetchall()
        current = {name: dtype for name, dtype in rows}
        prev = previous_metadata(context.instance, dg.AssetCheckKey(t.asset_key, "schema_change"))
        previous = json.loads(prev["columns"]) if prev and "columns" in prev else None
        passed, text = evaluate_schema(previous, current)
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=text,
            metadata={"columns": dg.MetadataValue.text(json.dumps(current, sort_keys=True))},
        )

    return _check
