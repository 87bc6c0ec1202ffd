"""The insights' daily partitions (one partition = one run date) and which partition a night runs.

A night that starts on day D (02:00 in NIGHTLY_TIMEZONE) writes the insights for D - 1, the last
complete day; so does a sandbox run whose 'today' is JOURNEY_AS_OF (the simulated shop's end date: its
data stops the day before). `end_offset` stays 0 on purpose: with 1, "today" would be the newest
partition and the schedule built from the job would run the incomplete current day instead of
yesterday.

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


insights_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("INSIGHTS_START_DATE") or DEFAULT_START_DATE,
    timezone=nightly_timezone(),
    end_offset=0,
)


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
    elif isinstance(as_of, dt.date):
        today = as_of
    else:
        today = dt.date.fromisoformat(str(as_of)[:10])
    key = partition_for_night(today)
    if not insights_partitions.has_partition_key(key):
        first = insights_partitions.get_first_partition_key()
        raise ValueError(
            f"no insights partition {key} (the night of {today}): partitions run daily from {first} "
            "(INSIGHTS_START_DATE) to yesterday by the wall clock"
        )
    return key
