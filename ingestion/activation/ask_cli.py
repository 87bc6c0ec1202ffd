"""`journey segments ask "<words>"`: show the segment the words describe (definition, SQL, size,
generator), then save it as `segments/<name>.yml`.

Exposed as `ask_command` for the `journey segments` group to mount. Only click is imported at module
level so `journey --help` stays instant. It connects as the reporter: the catalog it validates against
and the size it counts are what the nightly snapshot (also the reporter) will see. A refusal exits
with code 2 and its reason.
"""

from __future__ import annotations

from pathlib import Path

import click

REFUSED_EXIT_CODE = 2


@click.command("ask")
@click.argument("question")
@click.option("--name", default=None, help="segment name (default: a slug of the question)")
@click.option(
    "--save/--no-save",
    default=None,
    help="save without asking / only show (default: show, then ask before saving)",
)
@click.option("--yes", "-y", is_flag=True, help="save without asking")
@click.option(
    "--segments-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="where segment files live (default: segments/)",
)
def ask_command(
    question: str, name: str | None, save: bool | None, yes: bool, segments_dir: Path | None
) -> None:
    """Build a segment from words, e.g. "customers in Texas who haven't ordered in 90 days"."""
    import psycopg

    from ingestion.activation.ask import SegmentRequestRefused, propose
    from ingestion.activation.ask_llm import SegmentGenerationError
    from ingestion.activation.segments import SEGMENTS_DIR, SegmentDefinitionError, save_segment
    from ingestion.warehouse import WarehouseError, WarehouseSettings
    from ingestion.warehouse.settings import connect
    from ml.insights.llm import LLMSettings

    llm = LLMSettings.from_env()
    try:
        with connect("reporter", WarehouseSettings.from_env(), autocommit=True) as conn:
            proposal = propose(question, conn=conn, llm=llm, name=name)
    except SegmentRequestRefused as exc:
        click.echo(f"refused: {exc.reason}", err=True)
        raise click.exceptions.Exit(REFUSED_EXIT_CODE) from exc
    except (WarehouseError, SegmentGenerationError, SegmentDefinitionError) as exc:
        raise click.ClickException(str(exc)) from exc
    except psycopg.Error as exc:  # e.g. the 30 s statement timeout while counting the members
        raise click.ClickException(f"the warehouse could not evaluate the segment: {exc}") from exc

    d = proposal.definition
    generator = "rules (offline)" if proposal.generator == "rules" else f"llm {proposal.model}"
    click.echo(f"{click.style(d.label, bold=True)}  [{d.name}]")
    if d.description:
        click.echo(d.description)
    click.echo("")
    click.echo(proposal.sql.rstrip())
    click.echo("")
    click.echo(
        f"size:      {proposal.size:,} customers" if proposal.size is not None else "size:      unknown"
    )
    click.echo(f"generator: {generator}")

    if save is False:
        return
    if save is None and not yes and not click.confirm(f"save as {d.name}.yml?", default=True):
        click.echo("not saved")
        return
    try:
        path = save_segment(d, segments_dir or SEGMENTS_DIR)
    except SegmentDefinitionError as exc:
        raise click.ClickException(f"{exc} (use --name)") from exc
    click.echo(f"saved {path}")
