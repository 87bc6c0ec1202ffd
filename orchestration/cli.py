"""`journey`: the project's command line (warehouse, sandbox, emulators, demo, dashboards).

Heavy imports (Dagster, dbt, the generator) happen inside commands so `journey warehouse url` stays instant.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import click

from ingestion.warehouse import EmbeddedPostgres, WarehouseError, WarehouseSettings, init_warehouse
from ingestion.warehouse.paths import local_dir
from ingestion.warehouse.server import postgres_bin_dir


@click.group()
def main() -> None:
    """Customer Journey Platform command line."""


# -- warehouse ------------------------------------------------------------------------------
@main.group()
def warehouse() -> None:
    """The Postgres warehouse (embedded by default; WAREHOUSE_URL points elsewhere)."""


def _embedded() -> EmbeddedPostgres:
    try:
        return EmbeddedPostgres(WarehouseSettings.from_env())
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc


@warehouse.command("up")
def warehouse_up() -> None:
    """Start the embedded server (idempotent) and create the contract's schemas and roles."""
    settings = WarehouseSettings.from_env()
    try:
        if settings.embedded:
            st = EmbeddedPostgres(settings).up()
            click.echo(f"warehouse {st.message}: {st.url} (data in {st.data_dir})")
        else:
            click.echo(f"WAREHOUSE_URL is set: using {settings.redacted()} (embedded server not started)")
        for line in init_warehouse(settings):
            click.echo(f"  {line}")
        _raw_contract(settings)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc


@warehouse.command("down")
def warehouse_down() -> None:
    """Stop the embedded server; its data stays in the data directory."""
    try:
        st = _embedded().down()
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"warehouse {st.message} (data kept in {st.data_dir})")


@warehouse.command("status")
def warehouse_status() -> None:
    """Is the embedded server running, on which port, with which data directory."""
    settings = WarehouseSettings.from_env()
    if not settings.embedded:
        click.echo(f"external warehouse: {settings.redacted()}")
        return
    st = EmbeddedPostgres(settings).status()
    click.echo(f"{st.message}; port {st.port}; pid {st.pid or '-'}; data {st.data_dir}; url {st.url}")
    sys.exit(0 if st.running else 3)


@warehouse.command("init")
def warehouse_init() -> None:
    """Create the contract's schemas, roles, grants and every source's raw tables (idempotent; also
    run by `up`)."""
    settings = WarehouseSettings.from_env()
    try:
        for line in init_warehouse(settings):
            click.echo(line)
        _raw_contract(settings)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc


def _raw_contract(settings: WarehouseSettings) -> None:
    from ingestion.raw_contract import ensure_raw_tables

    created = ensure_raw_tables(settings)
    click.echo(
        f"  raw tables: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present")
    )


# -- sources --------------------------------------------------------------------------------
@main.group("sources", invoke_without_command=True)
@click.pass_context
def sources_cmd(ctx: click.Context) -> None:
    """Which sources are configured, and why (or what to set). Every source is optional.
    `journey sources check` tries each configured one for real."""
    if ctx.invoked_subcommand is not None:
        return
    from ingestion.sources import SOURCES

    width = max(len(s.name) for s in SOURCES)
    for source in SOURCES:
        status = source.status(None)
        state = "configured    " if status.configured else "not configured"
        click.echo(f"{source.name:<{width}}  {state}  {status.reason}    [{source.title}]")
    click.echo(
        "\nUnconfigured sources stay idle (their raw tables exist, empty); see README, 'Connect your own data'."
    )


@sources_cmd.command("check")
@click.argument("names", nargs=-1)
def sources_check_cmd(names: tuple[str, ...]) -> None:
    """Authenticate, check scopes and API version, fetch one page: a verdict per configured source
    (all, or the NAMES given). Exits 1 when any configured source fails; prints no secret."""
    from orchestration.source_checks import print_checks

    sys.exit(print_checks(list(names) or None, echo=click.echo))


@warehouse.command("url")
@click.option("--role", default="admin", type=click.Choice(["admin", "loader", "transformer", "reporter"]))
@click.option(
    "--show-password", is_flag=True, help="print the role's own password instead of *** (e.g. for a notebook)"
)
def warehouse_url(role: str, show_password: bool) -> None:
    """Print ROLE's connection URL (for notebooks, BI tools), password masked unless --show-password.
    Only ROLE's own credentials are ever printed."""
    settings = WarehouseSettings.from_env()
    try:
        click.echo(settings.role_url(role) if show_password else settings.redacted(role))
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc


def psql_invocation(
    settings: WarehouseSettings, role: str, args: tuple[str, ...] = ()
) -> tuple[list[str], dict[str, str]]:
    """argv and environment for psql as `role`: the password travels in PGPASSWORD (readable only by
    this user, in /proc/<pid>/environ), never in argv, which `ps` shows to every local user."""
    parts = urlsplit(settings.role_url(role))
    password = parts.password
    hostport = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    url = urlunsplit((parts.scheme, f"{user}@{hostport}", parts.path, parts.query, parts.fragment))
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    if password:
        env["PGPASSWORD"] = unquote(password)
    psql = str(postgres_bin_dir() / "psql")
    return [psql, url, *args], env


@warehouse.command("psql", context_settings={"ignore_unknown_options": True})
@click.option("--role", default="admin", type=click.Choice(["admin", "loader", "transformer", "reporter"]))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def warehouse_psql(role: str, args: tuple[str, ...]) -> None:
    """Open psql (shipped with the embedded server's binaries) on the warehouse as ROLE."""
    try:
        argv, env = psql_invocation(WarehouseSettings.from_env(), role, args)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    os.execve(argv[0], argv, env)


# -- sandbox --------------------------------------------------------------------------------
@main.group()
def sandbox() -> None:
    """The simulated shop and the local emulators of every source API."""


def _sandbox_dir(size: str, out: str | None) -> Path:
    return Path(out).resolve() if out else local_dir() / "sandbox" / size


@sandbox.command("generate")
@click.option("--size", default="small", type=click.Choice(["tiny", "small", "large"]))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--out", default=None, help="output directory (default .local/sandbox/<size>)")
def sandbox_generate(size: str, seed: int, out: str | None) -> None:
    """Generate a deterministic simulated shop (Parquet + tracked-event landing files + truth/)."""
    import time

    from ingestion.sandbox.shop import generate_world

    target = _sandbox_dir(size, out)
    t0 = time.perf_counter()
    world = generate_world(size, seed, target)
    _print_world(world, target, time.perf_counter() - t0)


@sandbox.command("advance")
@click.option("--days", required=True, type=int)
@click.option("--size", default="small", type=click.Choice(["tiny", "small", "large"]))
@click.option("--out", default=None)
def sandbox_advance(days: int, size: str, out: str | None) -> None:
    """Extend an existing world by N days (so the nightly run has new data)."""
    import time

    from ingestion.sandbox.shop import advance_world

    target = _sandbox_dir(size, out)
    if not (target / "world.json").exists():
        raise click.ClickException(
            f"no world in {target}; run `journey sandbox generate --size {size}` first"
        )
    t0 = time.perf_counter()
    world = advance_world(target, days)
    _print_world(world, target, time.perf_counter() - t0)


@sandbox.command("serve")
@click.option("--size", default="small", type=click.Choice(["tiny", "small", "large"]))
@click.option("--out", default=None)
def sandbox_serve(size: str, out: str | None) -> None:
    """Serve the Shopify, Meta and GA4 emulators on fixed local ports until Ctrl-C."""
    import time

    from ingestion.sandbox.emulators import running_emulators

    target = _sandbox_dir(size, out)
    with running_emulators(target, ports=EMULATOR_PORTS) as env:
        click.echo("emulators serving " + str(target) + "; export these to point connectors at them:")
        for key, value in sorted(env.items()):
            click.echo(f"  export {key}={value}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("stopping emulators")


EMULATOR_PORTS = {"shopify": 8701, "meta": 8702, "ga4": 8703}


def _print_world(world: dict, target: Path, seconds: float) -> None:
    click.echo(
        f"{world['size']} shop, seed {world['seed']}: {world['start_date']} .. {world['end_date']} "
        f"({world['days']} days) in {seconds:.1f}s -> {target}"
    )
    for table, rows in sorted(world.get("counts", {}).items()):
        click.echo(f"  {table:<28} {rows:>12,}")


# -- collector ------------------------------------------------------------------------------
@main.group()
def collector() -> None:
    """The tracked-events collector (durable JSONL landing files; never touches the warehouse)."""


@collector.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=int)
def collector_serve(host: str, port: int) -> None:
    """Serve POST /v1/batch|track|page|identify until Ctrl-C (settings from EVENTS_*/COLLECTOR_* env)."""
    from ingestion.events.collector import serve

    serve(host=host, port=port)


# -- dbt -----------------------------------------------------------------------------------
@main.command("dbt", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dbt_cmd(args: tuple[str, ...]) -> None:
    """Run dbt in dbt_project/ against the warehouse as the transformer role (e.g. `journey dbt build`)."""
    from ingestion.sources import dbt_sources_env
    from ingestion.warehouse.paths import PROJECT_ROOT
    from ingestion.warehouse.pii import ensure_pii_key
    from ingestion.warehouse.settings import dbt_env

    project = PROJECT_ROOT / "dbt_project"
    settings = WarehouseSettings.from_env()
    ensure_pii_key(settings)  # the models hash with the key in the warehouse: the current PII_HASH_SALT
    env = {**os.environ, **dbt_env(settings), **dbt_sources_env()}
    env.setdefault("DBT_PROFILES_DIR", str(project))
    dbt = Path(sys.executable).parent / "dbt"
    os.chdir(project)
    os.execve(str(dbt), [str(dbt), *args], env)


@main.command("lint-sql", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def lint_sql(args: tuple[str, ...]) -> None:
    """sqlfluff lint of the dbt models and tests (config: dbt_project/.sqlfluff); extra args pass through."""
    from ingestion.warehouse.paths import PROJECT_ROOT

    project = PROJECT_ROOT / "dbt_project"
    sqlfluff = Path(sys.executable).parent / "sqlfluff"
    os.chdir(project)
    os.execv(str(sqlfluff), [str(sqlfluff), "lint", "models", "tests", *args])


# -- dashboards -----------------------------------------------------------------------------
from dashboards.cli import dashboards as dashboards_group  # noqa: E402  (click only; the rest loads lazily)

main.add_command(dashboards_group, "dashboards")


# -- dev ------------------------------------------------------------------------------------
def _die_with_parent() -> None:
    """preexec_fn: on Linux the kernel sends SIGTERM to the child when this process dies (kill -9
    included), so `dagster dev` never outlives `journey dev` holding the port and the emulators' URLs.
    orchestration/bin/dbt does the same for dbt under the run's process."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG


@main.command("dev")
@click.option("--size", default="small", type=click.Choice(["tiny", "small", "large"]))
@click.option("--port", default=3000, type=int)
def dev(size: str, port: int) -> None:
    """Dagster UI on 127.0.0.1 with the embedded warehouse and the emulators of the sandbox world."""
    import subprocess

    from ingestion.sandbox.emulators import running_emulators
    from orchestration.demo import ensure_world, prepare_environment

    world_dir = prepare_environment(size)
    ensure_world(size, 42)
    with running_emulators(world_dir, ports=EMULATOR_PORTS) as env:
        child_env = {**os.environ, **env}
        click.echo(f"Dagster UI: http://127.0.0.1:{port}  (Ctrl-C to stop; emulators stop with it)")
        dagster = Path(sys.executable).parent / "dagster"
        proc = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            env=child_env,
            preexec_fn=_die_with_parent,
        )
        try:
            sys.exit(proc.wait())
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait(timeout=30)


# -- nightly --------------------------------------------------------------------------------
@main.command("nightly")
@click.option(
    "--partition", default=None, help="run date YYYY-MM-DD (default: the day before JOURNEY_AS_OF or today)"
)
def nightly(partition: str | None) -> None:
    """nightly_job on your own data: the configured sources (see `journey sources`), the warehouse of
    WAREHOUSE_URL (or the embedded one), the Dagster instance in DAGSTER_HOME. No sandbox, no emulators."""
    from pathlib import Path as _Path

    from ingestion.raw_contract import ensure_raw_tables
    from ingestion.warehouse.paths import PROJECT_ROOT
    from orchestration.demo import run_nightly

    home = _Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        import shutil

        shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.local.yaml", home / "dagster.yaml")
    settings = WarehouseSettings.from_env()
    try:
        if settings.embedded:
            click.echo(f"warehouse {EmbeddedPostgres(settings).up().message}")
        init_warehouse(settings)
        ensure_raw_tables(settings)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        code = run_nightly(settings, partition)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(code)


# -- demo -----------------------------------------------------------------------------------
@main.command("demo")
@click.option("--size", default="small", type=click.Choice(["tiny", "small", "large"]))
@click.option("--seed", default=42, type=int)
def demo(size: str, seed: int) -> None:
    """Warehouse up -> sandbox generated if missing -> nightly_job -> summary."""
    from orchestration.demo import run_demo

    sys.exit(run_demo(size=size, seed=seed))


if __name__ == "__main__":
    main()
