"""Sync segments to their destinations as deltas: what `marts.segment_members` holds now (current
stays), narrowed to who may be exported, against what the destination holds as far as
`activation.sync_members` knows.

- Eligible = a current member with marketing consent (`dim_customers.marketing_allowed`: Shopify's
  email marketing state, and no refusal in the tracker's consent), and for Meta at least one match
  key (an email or phone in Shopify), for Shopify a Shopify customer record. Members without consent
  are never sent; synced customers who lose consent are removed like leavers.
- Adds = eligible - synced, removes = synced - eligible. Each vendor-acknowledged batch (Meta) or
  customer (Shopify) is recorded in the same transaction as the run's counters, so a sync killed at
  any point resumes with what is left, uploading nothing that was acknowledged before. A batch in
  flight at the kill is sent again; both vendors treat a repeat as a no-op (an audience and a tag
  list are sets).
- One sync per destination and segment at a time (a Postgres advisory lock); a run left `running`
  by a killed process is marked `interrupted` by the next one.
- Dry run: the plan is computed and recorded (`status = dry_run`), nothing is sent.

Emails and phones are read from the raw `shopify.customers` table only for the customers being sent,
normalized and SHA-256 hashed as Meta specifies (ingestion/activation/hashing.py) in memory, and
never written anywhere.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import psycopg

from ingestion.activation.hashing import match_row
from ingestion.activation.segments import SegmentDefinition
from ingestion.common.http import SourceAPIError

log = logging.getLogger(__name__)

META = "meta_custom_audiences"
SHOPIFY = "shopify_tags"


@dataclass
class SyncPlan:
    destination: str
    segment: str
    as_of_date: date | None
    members: int
    without_consent: int
    without_match_keys: int
    adds: list[int]
    removes: list[int]
    eligible: int = 0

    def describe(self) -> str:
        return (
            f"{self.destination} {self.segment}: {self.members} members, {self.eligible} eligible "
            f"({self.without_consent} without marketing consent, {self.without_match_keys} without "
            f"{'an email or phone' if self.destination == META else 'a Shopify record'}): "
            f"+{len(self.adds)} -{len(self.removes)}"
        )


@dataclass
class SyncOutcome:
    plan: SyncPlan
    status: str
    adds: int = 0
    removes: int = 0
    audience_id: str | None = None
    num_received: int = 0
    num_invalid_entries: int = 0
    matched_lower_bound: int | None = None
    matched_upper_bound: int | None = None
    match_rate: float | None = None
    unremovable: int = 0  # Meta leavers without an email or phone left to name them by
    failures: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = f"{self.plan.destination} {self.plan.segment}: {self.status}, +{self.adds} -{self.removes}"
        if self.audience_id:
            text += f", audience {self.audience_id}"
        if self.match_rate is not None:
            text += (
                f", matched ≈{self.matched_lower_bound}-{self.matched_upper_bound} ({self.match_rate:.0%})"
            )
        return text


class SyncError(RuntimeError):
    """A sync that did not finish, naming the destination, the segment and what failed."""


# --- planning -----------------------------------------------------------------------------------

MEMBERS_SQL = """
select m.customer_id, coalesce(c.marketing_allowed, false), coalesce(c.is_shopify_customer, false)
from marts.segment_members as m
left join marts.dim_customers as c on m.customer_id = c.customer_id
where m.segment = %s and m.is_current
"""
AS_OF_SQL = "select max(as_of_date) from marts.fct_segment_sizes_daily where segment = %s"
SYNCED_SQL = "select customer_id from activation.sync_members where destination = %s and segment = %s"
SYNCED_COUNT_SQL = "select count(*) from activation.sync_members where destination = %s and segment = %s"
# the raw Shopify record of each customer id: emails and phones stay in this process, hashed
CONTACTS_SQL = """
select cast(substring(id from '(\\d+)(?:\\?.*)?$') as bigint) as customer_id, email, phone
from shopify.customers
where cast(substring(id from '(\\d+)(?:\\?.*)?$') as bigint) = any(%s)
"""


def match_keys(
    conn: psycopg.Connection, customer_ids: Sequence[int]
) -> dict[int, tuple[str | None, str | None]]:
    """{customer_id: (hashed EMAIL, hashed PHONE)} for the customers with at least one key."""
    keys: dict[int, tuple[str | None, str | None]] = {}
    for customer_id, email, phone in conn.execute(CONTACTS_SQL, (list(customer_ids),)):
        row = match_row(email, phone)
        if row != (None, None):
            keys[int(customer_id)] = row
    return keys


def plan_sync(conn: psycopg.Connection, destination: str, segment: str) -> SyncPlan:
    """The delta for one destination and segment (read as the transformer: marts, raw, activation)."""
    rows = conn.execute(MEMBERS_SQL, (segment,)).fetchall()
    as_of = conn.execute(AS_OF_SQL, (segment,)).fetchone()[0]
    consenting = [cid for cid, allowed, _ in rows if allowed]
    if destination == META:
        reachable = set(match_keys(conn, consenting))
    else:
        reachable = {cid for cid, allowed, shopify in rows if allowed and shopify}
    eligible = set(consenting) & reachable
    synced = {r[0] for r in conn.execute(SYNCED_SQL, (destination, segment))}
    return SyncPlan(
        destination=destination,
        segment=segment,
        as_of_date=as_of,
        members=len(rows),
        without_consent=len(rows) - len(consenting),
        without_match_keys=len(consenting) - len(eligible),
        adds=sorted(eligible - synced),
        removes=sorted(synced - eligible),
        eligible=len(eligible),
    )


# --- run bookkeeping ----------------------------------------------------------------------------


class RunLog:
    """The run's `activation.sync_runs` row and the `sync_members` it changes, on one connection."""

    def __init__(self, conn: psycopg.Connection, plan: SyncPlan, run_id: str) -> None:
        self.conn, self.plan, self.run_id = conn, plan, run_id

    def start(self, status: str = "running") -> None:
        p = self.plan
        with self.conn.transaction():
            self.conn.execute(
                """
                insert into activation.sync_runs (run_id, destination, segment, status, as_of_date,
                    members, eligible, without_consent, without_match_keys, planned_adds, planned_removes)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                on conflict (run_id, destination, segment) do update set status = excluded.status,
                    started_at = now(), finished_at = null, error = null, as_of_date = excluded.as_of_date,
                    members = excluded.members, eligible = excluded.eligible,
                    without_consent = excluded.without_consent,
                    without_match_keys = excluded.without_match_keys,
                    planned_adds = excluded.planned_adds, planned_removes = excluded.planned_removes
                """,
                (
                    self.run_id,
                    p.destination,
                    p.segment,
                    status,
                    p.as_of_date,
                    p.members,
                    p.eligible,
                    p.without_consent,
                    p.without_match_keys,
                    len(p.adds),
                    len(p.removes),
                ),  # fmt: skip
            )

    def acknowledged(
        self, added: Sequence[int] = (), removed: Sequence[int] = (), received: int = 0, invalid: int = 0
    ) -> None:
        """What the vendor acknowledged, recorded atomically with the run's counters."""
        p = self.plan
        with self.conn.transaction():
            if added:
                self.conn.execute(
                    "insert into activation.sync_members (destination, segment, customer_id) "
                    "select %s, %s, unnest(%s::bigint[]) on conflict do nothing",
                    (p.destination, p.segment, list(added)),
                )
            if removed:
                self.conn.execute(
                    "delete from activation.sync_members where destination = %s and segment = %s "
                    "and customer_id = any(%s)",
                    (p.destination, p.segment, list(removed)),
                )
            self.conn.execute(
                "update activation.sync_runs set adds = adds + %s, removes = removes + %s, "
                "num_received = coalesce(num_received, 0) + %s, "
                "num_invalid_entries = coalesce(num_invalid_entries, 0) + %s "
                "where run_id = %s and destination = %s and segment = %s",
                (len(added), len(removed), received, invalid, self.run_id, p.destination, p.segment),
            )

    def finish(self, outcome: SyncOutcome, error: str | None = None) -> None:
        p = self.plan
        with self.conn.transaction():
            self.conn.execute(
                "update activation.sync_runs set status = %s, finished_at = now(), error = %s, "
                "audience_id = %s, matched_lower_bound = %s, matched_upper_bound = %s, match_rate = %s "
                "where run_id = %s and destination = %s and segment = %s",
                (
                    outcome.status,
                    error,
                    outcome.audience_id,
                    outcome.matched_lower_bound,
                    outcome.matched_upper_bound,
                    outcome.match_rate,
                    self.run_id,
                    p.destination,
                    p.segment,
                ),  # fmt: skip
            )


@dataclass
class Lock:
    conn: psycopg.Connection
    key: str

    def __enter__(self) -> Lock:
        got = self.conn.execute("select pg_try_advisory_lock(hashtext(%s))", (self.key,)).fetchone()[0]
        if not got:
            raise SyncError(f"{self.key}: another sync of this destination and segment is running")
        # whoever left a run `running` is gone (we hold the lock): say so instead of leaving it stuck
        destination, segment = self.key.split(":", 2)[1:]
        self.conn.execute(
            "update activation.sync_runs set status = 'interrupted', finished_at = now(), "
            "error = 'the process running this sync stopped before it finished; the next run resumed it' "
            "where destination = %s and segment = %s and status = 'running'",
            (destination, segment),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("select pg_advisory_unlock(hashtext(%s))", (self.key,))


# --- destinations ---------------------------------------------------------------------------------


class Destination(Protocol):
    name: str

    def push(
        self, definition: SegmentDefinition, plan: SyncPlan, log_: RunLog, outcome: SyncOutcome
    ) -> None: ...


class PlanOnly:
    """The destination of a dry run: only its name is read, it is never asked to push."""

    def __init__(self, name: str) -> None:
        self.name = name

    def push(self, *args: object) -> None:
        raise AssertionError("a dry run never pushes")


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MetaDestination:
    """Meta Custom Audiences: one audience per segment, named `journey: <label>`; members in batches of
    the client's size, each direction in one upload session."""

    name = META

    def __init__(self, client: Any, conn: psycopg.Connection) -> None:
        self.client, self.conn = client, conn

    def audience_name(self, definition: SegmentDefinition) -> str:
        return f"journey: {definition.label} ({definition.name})"

    def push(self, definition: SegmentDefinition, plan: SyncPlan, log_: RunLog, outcome: SyncOutcome) -> None:
        from ingestion.activation.meta_audiences import new_session_id

        audience = self.client.ensure_audience(self.audience_name(definition), definition.description)
        outcome.audience_id = audience.id
        for customers, adding in ((plan.adds, True), (plan.removes, False)):
            if not customers:
                continue
            keys = match_keys(self.conn, customers)
            if not adding:
                # a customer whose email and phone are gone from Shopify can no longer be named to
                # Meta; they leave our record (Meta expires inactive customer-list members itself)
                gone = [cid for cid in customers if cid not in keys]
                if gone:
                    log.warning(
                        "%s: %d leavers have no email or phone left to remove by", plan.segment, len(gone)
                    )
                    log_.acknowledged(removed=gone)
                    outcome.unremovable += len(gone)
                customers = [cid for cid in customers if cid in keys]
                if not customers:
                    continue
            send = self.client.add_users if adding else self.client.remove_users
            session = new_session_id()
            batches = list(chunks(customers, self.client.batch_size))
            for seq, batch in enumerate(batches, start=1):
                rows = [keys.get(cid, (None, None)) for cid in batch]
                result = send(
                    audience.id, rows, session_id=session, batch_seq=seq,
                    last_batch=seq == len(batches), estimated_total=len(customers),
                )  # fmt: skip
                if adding:
                    log_.acknowledged(
                        added=batch, received=result.num_received, invalid=result.num_invalid_entries
                    )
                    outcome.adds += len(batch)
                else:
                    log_.acknowledged(removed=batch, received=result.num_received)
                    outcome.removes += len(batch)
                outcome.num_received += result.num_received
                outcome.num_invalid_entries += result.num_invalid_entries
        size = self.client.size(audience.id)
        outcome.matched_lower_bound, outcome.matched_upper_bound = size.lower_bound, size.upper_bound
        synced = self.conn.execute(SYNCED_COUNT_SQL, (META, plan.segment)).fetchone()[0]
        outcome.match_rate = min(1.0, size.lower_bound / synced) if synced else None


class ShopifyDestination:
    """Shopify customer tags: the segment's tag (`journey:<name>`) added to or removed from each
    customer, one acknowledged mutation at a time (the client paces itself on Shopify's cost bucket)."""

    name = SHOPIFY

    def __init__(self, client: Any) -> None:
        self.client = client

    def push(self, definition: SegmentDefinition, plan: SyncPlan, log_: RunLog, outcome: SyncOutcome) -> None:
        tag = definition.shopify_tag
        for customers, call, added in (
            (plan.adds, self.client.add, True),
            (plan.removes, self.client.remove, False),
        ):
            for customer_id in customers:
                result = call(customer_id, [tag])
                if not result.ok:
                    outcome.failures.append(f"customer {customer_id}: {'; '.join(result.errors)}")
                    continue
                if added:
                    log_.acknowledged(added=[customer_id])
                    outcome.adds += 1
                else:
                    log_.acknowledged(removed=[customer_id])
                    outcome.removes += 1


LIVE_ENV = "ACTIVATION_DESTINATIONS"


def live_destinations(raw: str | None) -> set[str]:
    """The destinations `ACTIVATION_DESTINATIONS` (comma-separated) lets syncs write to; unset = none."""
    from ingestion.activation.segments import DESTINATIONS

    chosen = {d.strip() for d in (raw or "").split(",") if d.strip()}
    unknown = chosen - set(DESTINATIONS)
    if unknown:
        raise ValueError(f"{LIVE_ENV}: unknown destination(s) {sorted(unknown)}; known: {list(DESTINATIONS)}")
    return chosen


def build_destination(
    name: str, conn: psycopg.Connection, env: Mapping[str, str] | None = None
) -> Destination:
    """The vendor client of a destination, from the same variables as its source's connector."""
    if name == META:
        from ingestion.activation.meta_audiences import MetaAudienceClient

        return MetaDestination(MetaAudienceClient.from_env(env), conn)
    from ingestion.activation.shopify_tags import ShopifyTagClient

    return ShopifyDestination(ShopifyTagClient.from_env(env))


@dataclass
class DestinationRun:
    dry_run: bool
    outcomes: list[SyncOutcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def sync_destination(
    conn: psycopg.Connection,
    destination: str,
    definitions: Sequence[SegmentDefinition],
    live: set[str],
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
    run_id: str | None = None,
    echo: Callable[[str], None] = log.info,
) -> DestinationRun:
    """Every segment of `definitions` to one destination: live only when it is in `live` (and not
    `dry_run`); each segment is tried, the failures are collected (SyncError, vendor errors) for the
    caller to raise together. What the CLI and the Dagster asset both run."""
    dry = dry_run or destination not in live
    if dry and not dry_run:
        echo(f"{destination}: dry run ({destination} is not in {LIVE_ENV})")
    run = DestinationRun(dry)
    target = PlanOnly(destination) if dry else build_destination(destination, conn, env)
    for definition in definitions:
        try:
            outcome = sync_segment(
                conn,
                target,
                definition,
                run_id=run_id,
                dry_run=dry,
                on_plan=lambda plan: echo(f"plan  {plan.describe()}"),
            )
        except (SyncError, SourceAPIError) as exc:
            run.failures.append(f"{definition.name}: {type(exc).__name__}: {exc}")
            continue
        echo(f"done  {outcome.describe()}")
        run.outcomes.append(outcome)
    return run


def sync_segment(
    conn: psycopg.Connection,
    destination: Destination,
    definition: SegmentDefinition,
    run_id: str | None = None,
    dry_run: bool = False,
    on_plan: Callable[[SyncPlan], None] | None = None,
) -> SyncOutcome:
    """Plan and (unless `dry_run`) push one segment to one destination; the connection must be the
    transformer's, in autocommit mode (every acknowledged step commits on its own)."""
    run_id = run_id or uuid.uuid4().hex
    with Lock(conn, f"activation:{destination.name}:{definition.name}"):
        plan = plan_sync(conn, destination.name, definition.name)
        if on_plan is not None:
            on_plan(plan)
        log_ = RunLog(conn, plan, run_id)
        if dry_run:
            log_.start("dry_run")
            outcome = SyncOutcome(plan, "dry_run")
            log_.finish(outcome)
            return outcome
        log_.start()
        outcome = SyncOutcome(plan, "running")
        try:
            destination.push(definition, plan, log_, outcome)
        except Exception as exc:  # recorded on the run's row, then re-raised unchanged
            outcome.status = "failed"
            log_.finish(outcome, error=f"{type(exc).__name__}: {exc}")
            raise
        if outcome.failures:
            outcome.status = "failed"
            error = f"{len(outcome.failures)} customers were refused: " + "; ".join(outcome.failures[:5])
            log_.finish(outcome, error=error)
            raise SyncError(f"{destination.name} {definition.name}: {error}")
        outcome.status = "succeeded"
        log_.finish(outcome)
        return outcome
