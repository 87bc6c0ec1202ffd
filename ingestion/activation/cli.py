"""`journey segments ...`: list the segments, evaluate them, sync them (or show what a sync would
change), and build one from plain words (`ask`). The same library calls the Dagster assets make."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ingestion.activation.segments import DESTINATIONS, SEGMENTS_DIR, load_segments

LIVE_ENV = "ACTIVATION_DESTINATIONS"


@click.group()
def segments() -> None:
    """Segments as code (segments/*.yml) and their sync to Meta Custom Audiences and Shopify tags."""


@segments.command("list")
@click.option("--segments-dir", type=click.Path(path_type=Path), default=SEGMENTS_DIR, show_default=True)
def list_segments(segments_dir: Path) -> None:
    """The defined segments and where each one is synced."""
    for d in load_segments(segments_dir):
        where = ", ".join(d.destinations) or "warehouse only"
        click.echo(f"{d.name:<24} {d.label:<40} -> {where}")


@segments.command("evaluate")
@click.option("--segments-dir", type=click.Path(path_type=Path), default=SEGMENTS_DIR, show_default=True)
def evaluate(segments_dir: Path) -> None:
    """Evaluate every segment for the marts' as-of day into activation.segment_snapshots (then dbt builds
    marts.segment_members); what the nightly `activation/segment_snapshots` asset does."""
    from ingestion.activation.evaluate import SegmentEvaluationError, evaluate_segments

    try:
        results = evaluate_segments(load_segments(segments_dir))
    except SegmentEvaluationError as exc:
        raise click.ClickException(str(exc)) from exc
    for r in results:
        click.echo(
            f"{r.name:<24} "
            + (f"{r.members} members on {r.as_of_date}" if r.skipped is None else f"skipped: {r.skipped}")
        )


def live_destinations() -> set[str]:
    return {d.strip() for d in os.environ.get(LIVE_ENV, "").split(",") if d.strip()}


@segments.command("sync")
@click.option("--destination", type=click.Choice(DESTINATIONS), multiple=True, help="default: both")
@click.option("--segment", "names", multiple=True, help="default: every segment marked for the destination")
@click.option("--dry-run", is_flag=True, help="show what would change, send nothing")
@click.option("--segments-dir", type=click.Path(path_type=Path), default=SEGMENTS_DIR, show_default=True)
def sync(destination: tuple[str, ...], names: tuple[str, ...], dry_run: bool, segments_dir: Path) -> None:
    """Push the segments' deltas (adds and removes since the last sync) to their destinations. A
    destination not listed in ACTIVATION_DESTINATIONS only gets a dry run."""
    from ingestion.activation.sync import (
        META,
        MetaDestination,
        PlanOnly,
        ShopifyDestination,
        SyncError,
        sync_segment,
    )
    from ingestion.common.http import SourceAPIError
    from ingestion.warehouse.settings import WarehouseSettings, connect

    live = live_destinations()
    failed = False
    with connect("transformer", WarehouseSettings.from_env(), autocommit=True) as conn:
        for dest in destination or DESTINATIONS:
            chosen = [
                d
                for d in load_segments(segments_dir)
                if dest in d.destinations and (not names or d.name in names)
            ]
            if not chosen:
                continue
            dry = dry_run or dest not in live
            if dry and not dry_run:
                click.echo(f"{dest}: dry run ({dest} is not in {LIVE_ENV})")
            target = None
            if not dry:
                if dest == META:
                    from ingestion.activation.meta_audiences import MetaAudienceClient

                    target = MetaDestination(MetaAudienceClient.from_env(), conn)
                else:
                    from ingestion.activation.shopify_tags import ShopifyTagClient

                    target = ShopifyDestination(ShopifyTagClient.from_env())
            for definition in chosen:
                try:
                    outcome = sync_segment(
                        conn, target or PlanOnly(dest), definition, dry_run=dry,
                        on_plan=lambda plan: click.echo(f"  plan  {plan.describe()}"),
                    )  # fmt: skip
                except (SyncError, SourceAPIError) as exc:
                    click.echo(f"  FAILED {dest} {definition.name}: {exc}", err=True)
                    failed = True
                    continue
                click.echo(f"  done  {outcome.describe()}")
    if failed:
        raise click.ClickException("some syncs failed (above); re-running resumes them")


def _add_ask() -> None:
    from ingestion.activation.ask_cli import ask_command

    segments.add_command(ask_command, "ask")


_add_ask()
