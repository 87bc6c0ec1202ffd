"""`report_complete` on `[ga4, daily_traffic]`: did GA4 serve the last load's report whole?

GA4 answers a thresholded, sampled or "(other)"-folded report with HTTP 200 and numbers that are lower
or coarser than the truth; only its response `metadata` says so. The connector writes those flags per
request to `ga4.report_metadata` (same dlt load as the rows), so this check reads the warehouse, not
the run that happened to see them: a WARN that stays on the asset until a load comes back whole.
Non-blocking: the numbers are still the best GA4 gives, downstream models should build.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
from psycopg import sql

from orchestration.defs.shared.resources import Warehouse

DATASET = "ga4"
LAST_LOAD = sql.SQL(
    "select count(*), min(start_date), max(end_date), bool_or(subject_to_thresholding), bool_or(sampled), "
    "bool_or(data_loss_from_other_row), min(samples_read_count), max(sampling_space_size), max(_dlt_load_id) "
    "from {t} where _dlt_load_id = (select _dlt_load_id from {t} order by _dlt_load_id::numeric desc limit 1)"
)


def describe(
    requests: int,
    span: str,
    thresholded: bool,
    sampled: bool,
    other_row: bool,
    samples: tuple[int | None, int | None] = (None, None),
) -> tuple[bool, str]:
    """(passed, description) of the last load's flags."""
    if requests == 0:
        return True, "no GA4 report loaded yet"
    problems = []
    if thresholded:
        problems.append(
            "thresholded (GA4 withheld rows with few users: Google signals or demographics on the property)"
        )
    if sampled:
        read, space = samples
        problems.append(f"sampled (estimates from {read or '?'} of {space or '?'} events)")
    if other_row:
        problems.append("folded into '(other)' (more dimension combinations a day than GA4 keeps)")
    head = f"last load: {requests} request(s) for {span}"
    if not problems:
        return True, f"{head}, served whole (not thresholded, sampled or folded into '(other)')"
    return False, (
        f"{head}: the report was " + "; ".join(problems) + ". ga4.daily_traffic under-reports those days; "
        "see docs/sources.md#ga4 (report completeness)"
    )


@dg.asset_check(
    asset=dg.AssetKey([DATASET, "daily_traffic"]),
    name="report_complete",
    blocking=False,
    description="the last GA4 load's report was not thresholded, sampled or folded into '(other)' "
    "(GA4's response metadata, kept in ga4.report_metadata)",
)
def report_complete(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect("admin") as conn:
        exists = conn.execute(
            "select to_regclass('ga4.report_metadata') is not null and to_regclass('ga4.daily_traffic') is not null"
        ).fetchone()[0]
        row = (
            conn.execute(LAST_LOAD.format(t=sql.Identifier(DATASET, "report_metadata"))).fetchone()
            if exists
            else (0, None, None, False, False, False, None, None, None)
        )
        traffic_load = (
            conn.execute("select max(_dlt_load_id::numeric) from ga4.daily_traffic").fetchone()[0]
            if exists
            else None
        )
    requests, start, end, thresholded, sampled, other_row, read, space, load_id = row
    passed, text = describe(
        int(requests), f"{start}..{end}", bool(thresholded), bool(sampled), bool(other_row), (read, space)
    )
    if traffic_load is not None and (load_id is None or traffic_load > Decimal(load_id)):
        # daily_traffic was loaded without its report metadata (an asset subset): its flags are unknown
        passed, text = (
            False,
            (
                "the last load of ga4.daily_traffic recorded no report metadata, so whether GA4 thresholded or "
                "sampled it is unknown: materialize [ga4, report_metadata] together with it"
            ),
        )
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=text,
        metadata={
            "requests": dg.MetadataValue.int(int(requests)),
            "subject_to_thresholding": bool(thresholded),
            "sampled": bool(sampled),
            "data_loss_from_other_row": bool(other_row),
            "dlt_load_id": str(load_id or ""),
        },
    )
