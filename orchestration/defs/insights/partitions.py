"""The insights' daily partitions (one partition = one run date) and which partition a night runs.

A night that starts on day D (02:00 in NIGHTLY_TIMEZONE) writes the insights for D - 1, the last
complete day; so does a sandbox run whose 'today' is JOURNEY_AS_OF (the simulated shop's end date: its
data stops the day before). `end_offset` stays 0 on purpose: with 1, "today" would be the newest
partition and the schedule built from the job would run the incomplete current day instead of
yesterday.

The partitions end where the data ends: with JOURNEY_AS_OF set when the code location loads (`journey
demo`/`journey dev` set it from the simulated shop, a replay of an export sets it by hand) the last
partition is the day before it, so the UI does not offer months of run dates with no data; unset
(production) they run to yesterday by the wall clock. A process that moves JOURNEY_AS_OF later (e.g.
`journey sandbox advance` under a running `journey dev`) sees the new day after reloading the code
location.

Kept free of asset definitions so `demo`, the tests and the benchmark can ask for a key cheaply.
"""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg

DEFAULT_START_DATE = "2024-01-01"


def nightly_timezone() -> str:
    """NIGHTLY_TIMEZONE (IANA name), default UTC: the schedule's clock and the partitions' day boundary."""
    return os.environ.get("NIGHTLY_TIMEZONE") or "UTC"


def _as_of_date(as_of: str | dt.date) -> dt.date:
    return as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)[:10])


def partitions_end_date() -> str | None:
    """The (exclusive) end of the run dates: JOURNEY_AS_OF (its day before is the last partition), or
    None for "up to yesterday by the wall clock"."""
    as_of = os.environ.get("JOURNEY_AS_OF")
    return _as_of_date(as_of).isoformat() if as_of else None


def build_insights_partitions() -> dg.DailyPartitionsDefinition:
    """From INSIGHTS_START_DATE, JOURNEY_AS_OF and NIGHTLY_TIMEZONE as they are now (at import)."""
    return dg.DailyPartitionsDefinition(
        start_date=os.environ.get("INSIGHTS_START_DATE") or DEFAULT_START_DATE,
        end_date=partitions_end_date(),
        timezone=nightly_timezone(),
        end_offset=0,
    )


insights_partitions = build_insights_partitions()


def partition_for_night(today: dt.date) -> str:
    """The partition a night starting on `today` runs: the day before (the last complete day)."""
    return (today - dt.timedelta(days=1)).isoformat()


def nightly_partition_key(as_of: str | dt.date | None = None) -> str:
    """The partition key an in-process nightly/insights run uses (demo, e2e, benchmark, dashboards).

    `as_of` (else JOURNEY_AS_OF, else today in NIGHTLY_TIMEZONE) is the run's 'today'; the key is the
    day before, exactly what `nightly_schedule` would pick on that day. Raises if the partitions do
    not contain it (INSIGHTS_START_DATE later than the data, or a 'today' beyond the wall clock)."""
    as_of = as_of or os.environ.get("JOURNEY_AS_OF")
    if as_of is None:
        from zoneinfo import ZoneInfo

        today = dt.datetime.now(ZoneInfo(nightly_timezone())).date()
    else:
        today = _as_of_date(as_of)
    key = partition_for_night(today)
    if not insights_partitions.has_partition_key(key):
        first = insights_partitions.get_first_partition_key()
        end = insights_partitions.end
        last = (
            f"the day before JOURNEY_AS_OF={end.date().isoformat()} as the code was loaded (reload it)"
            if end
            else "yesterday by the wall clock"
        )
        raise ValueError(
            f"no insights partition {key} (the night of {today}): partitions run daily from {first} "
            f"(INSIGHTS_START_DATE) to {last}"
        )
    return key
