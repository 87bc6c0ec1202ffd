"""Customer journeys as channel paths: converting ones (the touchpoints of each order) and
non-converting ones (tracked sessions that led to no order).

Why both: a data-driven model credits a channel for raising the chance of conversion, which needs the
journeys that did not convert too. Converting paths are the touchpoints of marts.fct_attribution
(sessions in the 30 days before a Shopify order, Shopify's journey summary, or one 'Unattributed'
touch; revenue = the order's total_price, as for the heuristic models). Non-converting paths are the
sessions in marts.fct_sessions that are no order's touchpoint, per visitor (the customer when known,
otherwise the browser), cut into windows of at most `lookback_days` from a path's first session so
they span the same time as a converting path's lookback.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

from ml.core import InsufficientData, read_frame, to_date

# every touch of every attributed order: each touch has a row under some model (linear credits all)
TOUCHES_SQL = """
select distinct
    touchpoint_id, order_id, touch_number, channel, campaign_id, order_revenue::double precision as order_revenue,
    ordered_at
from marts.fct_attribution
where ordered_at < %(as_of)s
"""

OPEN_SESSIONS_SQL = """
select
    coalesce('c' || sessions.customer_id::text, 'a' || sessions.anonymous_id) as visitor,
    sessions.session_start,
    sessions.channel
from marts.fct_sessions as sessions
where
    sessions.session_start < %(as_of)s
    and not exists (
        select 1 from marts.fct_attribution as touches where touches.session_id = sessions.session_id
    )
order by visitor, sessions.session_start
"""


SESSIONS_SQL = "select count(*) from marts.fct_sessions where session_start < %(as_of)s"


@dataclass
class TrainingSet:
    """`paths`: path_id, channels (tuple, in time order), converted, revenue, ended_at.
    `touches`: the converting paths' touches: path_id (= order_id), touch_number, channel, campaign_id."""

    as_of: dt.date
    paths: pd.DataFrame
    touches: pd.DataFrame

    @property
    def channels(self) -> list[str]:
        return sorted({c for p in self.paths["channels"] for c in p})


def split_windows(visitor: np.ndarray, start: np.ndarray, lookback: np.timedelta64) -> np.ndarray:
    """Path number per session (rows sorted by visitor, start): a new path at each new visitor and
    whenever a session starts more than `lookback` after its path's first session."""
    path = np.empty(len(visitor), dtype=np.int64)
    current, first = -1, None
    for i in range(len(visitor)):
        if i == 0 or visitor[i] != visitor[i - 1] or start[i] - first > lookback:
            current += 1
            first = start[i]
        path[i] = current
    return path


def converting_paths(touches: pd.DataFrame) -> pd.DataFrame:
    ordered = touches.sort_values(["order_id", "touch_number"])
    grouped = ordered.groupby("order_id", sort=False)
    return pd.DataFrame(
        {
            "path_id": grouped["order_id"].first().astype(str).to_numpy(),
            "channels": grouped["channel"].agg(tuple).to_numpy(),
            "converted": True,
            "revenue": grouped["order_revenue"].first().to_numpy(),
            "ended_at": pd.to_datetime(grouped["ordered_at"].first().to_numpy(), utc=True),
        }
    )


def open_paths(sessions: pd.DataFrame, lookback_days: int) -> pd.DataFrame:
    if sessions.empty:
        return pd.DataFrame(columns=["path_id", "channels", "converted", "revenue", "ended_at"])
    start = pd.to_datetime(sessions["session_start"], utc=True)
    number = split_windows(
        sessions["visitor"].to_numpy(), start.to_numpy(), np.timedelta64(lookback_days, "D")
    )
    grouped = sessions.assign(path=number, start=start).groupby("path", sort=True)
    return pd.DataFrame(
        {
            "path_id": [f"open-{k}" for k in grouped.groups],
            "channels": grouped["channel"].agg(tuple).to_numpy(),
            "converted": False,
            "revenue": 0.0,
            "ended_at": grouped["start"].max().to_numpy(),
        }
    )


def require_journeys(
    conn: psycopg.Connection, as_of: dt.date, touches: pd.DataFrame, open_sessions: pd.DataFrame
) -> None:
    """InsufficientData unless there are tracked sessions, attributed orders and sessions that are no
    order's touchpoint: a data-driven model credits a channel for raising the chance of conversion,
    which takes journeys that converted and journeys that did not."""
    sessions = conn.execute(SESSIONS_SQL, {"as_of": as_of}).fetchone()[0]
    facts = {
        "sessions": int(sessions),
        "attributed_orders": int(touches["order_id"].nunique()),
        "non_converting_sessions": len(open_sessions),
    }
    if not sessions:
        reason = (
            f"marts.fct_sessions has no session before {as_of} (no tracked web events): there are no "
            "journeys to attribute"
        )
    elif not facts["attributed_orders"]:
        reason = (
            f"marts.fct_attribution has no attributed order before {as_of} (no orders, or none "
            "matched to a journey): there are no conversions to credit"
        )
    elif not len(open_sessions):
        reason = (
            "every session is an order's touchpoint: without journeys that did not convert, no "
            "channel can be credited for raising conversion"
        )
    else:
        return
    raise InsufficientData(reason, **facts)


def build_training_set(conn: psycopg.Connection, as_of: dt.date | str, params=None) -> TrainingSet:
    """Converting and non-converting paths that ended before `as_of`; InsufficientData without
    sessions, attributed orders or non-converting sessions (see `require_journeys`)."""
    from ml.attribution.model import Params

    params = params or Params()
    as_of = to_date(as_of)
    touches = read_frame(conn, TOUCHES_SQL, {"as_of": as_of})
    sessions = read_frame(conn, OPEN_SESSIONS_SQL, {"as_of": as_of})
    require_journeys(conn, as_of, touches, sessions)
    paths = pd.concat(
        [converting_paths(touches), open_paths(sessions, params.lookback_days)], ignore_index=True
    )
    touches = touches.rename(columns={"order_id": "path_id"}).assign(
        path_id=lambda f: f["path_id"].astype(str)
    )
    return TrainingSet(
        as_of=as_of,
        paths=paths,
        touches=touches[["path_id", "touch_number", "channel", "campaign_id"]],
    )
