"""`journey segments ...`: list the segments, evaluate them, sync them (or show what a sync would
change), and build one from plain words (`ask`). The same library calls the Dagster assets make."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ingestion.activation.segments import DESTINATIONS, SEGMENTS_DIR, load_segments


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


@segments.command("sync")
@click.option("--destination", type=click.Choice(DESTINATIONS), multiple=True, help="default: both")
@click.option("--segment", "names", multiple=True, help="default: every segment marked for the destination")
@click.option("--dry-run", is_flag=True, help="show what would change, send nothing")
@click.option("--segments-dir", type=click.Path(path_type=Path), default=SEGMENTS_DIR, show_default=True)
def sync(destination: tuple[str, ...], names: tuple[str, ...], dry_run: bool, segments_dir: Path) -> None:
    """Push the segments' deltas (adds and removes since the last sync) to their destinations. A
    destination not listed in ACTIVATION_DESTINATIONS only gets a dry run."""
    from ingestion.activation.sync import LIVE_ENV, live_destinations, sync_destination
    from ingestion.warehouse.settings import WarehouseSettings, connect

    try:
        live = live_destinations(os.environ.get(LIVE_ENV))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    failures: list[str] = []
    with connect("transformer", WarehouseSettings.from_env(), autocommit=True) as conn:
        for dest in destination or DESTINATIONS:
            chosen = [
                d
                for d in load_segments(segments_dir)
                if dest in d.destinations and (not names or d.name in names)
            ]
            if chosen:
                run = sync_destination(
                    conn, dest, chosen, live, dry_run=dry_run, echo=lambda line: click.echo(f"  {line}")
                )
                failures += [f"{dest} {failure}" for failure in run.failures]
    for failure in failures:
        click.echo(f"  FAILED {failure}", err=True)
    if failures:
        raise click.ClickException(f"{len(failures)} syncs failed (above); re-running resumes them")


def _add_ask() -> None:
    from ingestion.activation.ask_cli import ask_command

    segments.add_command(ask_command, "ask")


_add_ask()
