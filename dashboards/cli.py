"""`journey dashboards ...`: validate, apply and export the Metabase dashboards kept as code.

Registered on the `journey` command in orchestration/cli.py. Only click is imported at module level so
`journey --help` stays instant; requests/pydantic load when a command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

_auth = [
    click.option("--url", envvar="METABASE_URL", default="http://localhost:3001", show_default=True),
    click.option("--user", envvar="METABASE_USER", required=True, help="admin e-mail (env METABASE_USER)"),
    click.option(
        "--password", envvar="METABASE_PASSWORD", required=True, help="(env METABASE_PASSWORD; never echoed)"
    ),
]


def _with_auth(fn):
    for option in reversed(_auth):
        fn = option(fn)
    return fn


def _client(url: str, user: str, password: str):
    from dashboards.metabase_client import MetabaseClient, MetabaseError

    client = MetabaseClient(url)
    try:
        client.login(user, password)
    except MetabaseError as exc:
        raise click.ClickException(str(exc)) from exc
    return client


@click.group()
def dashboards() -> None:
    """Metabase dashboards kept as YAML in dashboards/definitions/."""


@dashboards.command("validate")
@click.option("--definitions", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
def validate_cmd(definitions: Path | None) -> None:
    """Load and validate every definition (no Metabase needed)."""
    from dashboards.model import DEFINITIONS_DIR, load_dashboards

    try:
        boards = load_dashboards(definitions or DEFINITIONS_DIR)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for board in boards:
        click.echo(
            f"{board.key:<12} {board.name:<24} {len(board.cards):>2} cards, "
            f"filters: {', '.join(p.key for p in board.parameters) or '-'}"
        )


@dashboards.command("apply")
@_with_auth
@click.option(
    "--db-host", default=None, help="warehouse host as Metabase sees it (e.g. host.docker.internal)"
)
@click.option("--db-port", default=None, type=int, help="warehouse port as Metabase sees it")
@click.option("--collection", default=None, help="put every dashboard in this collection")
@click.option("--definitions", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
def apply_cmd(
    url: str,
    user: str,
    password: str,
    db_host: str | None,
    db_port: int | None,
    collection: str | None,
    definitions: Path | None,
) -> None:
    """Create or update the warehouse connection (reporter role), cards and dashboards; idempotent."""
    from dashboards.metabase_client import MetabaseError
    from dashboards.model import DEFINITIONS_DIR, load_dashboards
    from dashboards.provision import apply, reporter_database

    boards = load_dashboards(definitions or DEFINITIONS_DIR)
    spec = reporter_database(db_host=db_host, db_port=db_port)
    client = _client(url, user, password)
    try:
        report = apply(client, boards, spec, collection=collection)
    except MetabaseError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"warehouse connection '{spec.name}': {spec.user}@{spec.host}:{spec.port}/{spec.dbname} (id {report.database_id})"
    )
    for key, dashboard_id in report.dashboards.items():
        click.echo(f"  {key:<12} {url.rstrip('/')}/dashboard/{dashboard_id}")
    click.echo(report.summary())


@dashboards.command("export")
@_with_auth
@click.option("--dashboard", "dashboard_id", required=True, type=int, help="Metabase dashboard id")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="file (default stdout)"
)
def export_cmd(url: str, user: str, password: str, dashboard_id: int, out: Path | None) -> None:
    """Write an existing Metabase dashboard as a YAML definition."""
    from dashboards.metabase_client import MetabaseError
    from dashboards.provision import export

    client = _client(url, user, password)
    try:
        text = export(client, dashboard_id)
    except (MetabaseError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
        click.echo(f"wrote {out}")


@dashboards.command("exposures")
@click.option("--check", is_flag=True, help="fail if the committed file is out of date instead of writing it")
def exposures_cmd(check: bool) -> None:
    """Write dbt_project/models/marts/_exposures.yml from the definitions (one exposure per dashboard)."""
    from dashboards.exposures import EXPOSURES_PATH, render_exposures

    text = render_exposures()
    if check:
        if not EXPOSURES_PATH.exists() or EXPOSURES_PATH.read_text() != text:
            raise click.ClickException(f"{EXPOSURES_PATH} is stale; run `journey dashboards exposures`")
        click.echo(f"{EXPOSURES_PATH} is up to date")
        return
    EXPOSURES_PATH.write_text(text)
    click.echo(f"wrote {EXPOSURES_PATH}")
