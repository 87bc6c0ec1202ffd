"""`journey`: the project's command line (warehouse, sandbox, emulators, demo, dashboards).

Heavy imports (Dagster, dbt, the generator) happen inside commands so `journey warehouse url` stays instant.
"""

from __future__ import annotations

import os
import sys
import time
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


def _incident_specs(ctx: click.Context, param: click.Parameter, specs: tuple[str, ...]) -> tuple[str, ...]:
    """Fail on a malformed --incident before anything is generated."""
    from ingestion.sandbox.shop.incidents import parse_incident

    for spec in specs:
        try:
            parse_incident(spec)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return specs


@sandbox.command("generate")
@click.option("--size", default="small", type=click.Choice(["tiny", "small", "large"]))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--out", default=None, help="output directory (default .local/sandbox/<size>)")
@click.option(
    "--incident", "incidents", multiple=True, callback=_incident_specs, metavar="SPEC",
    help="plant an incident (repeatable): checkout_bug:START:END:DEVICE or payment_outage:START:END "
    "(UTC dates, inclusive); ground truth in <out>/incidents.json",
)  # fmt: skip
def sandbox_generate(size: str, seed: int, out: str | None, incidents: tuple[str, ...]) -> None:
    """Generate a deterministic simulated shop (Parquet + tracked-event landing files + truth/)."""
    import time

    from ingestion.sandbox.shop import generate_world

    target = _sandbox_dir(size, out)
    t0 = time.perf_counter()
    world = generate_world(size, seed, target, incidents=list(incidents))
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


EMULATOR_PORTS = {"shopify": 8701, "meta": 8702, "ga4": 8703, "google_ads": 8704}


def _print_world(world: dict, target: Path, seconds: float) -> None:
    click.echo(
        f"{world['size']} shop, seed {world['seed']}: {world['start_date']} .. {world['end_date']} "
        f"({world['days']} days) in {seconds:.1f}s -> {target}"
    )
    for table, rows in sorted(world.get("counts", {}).items()):
        click.echo(f"  {table:<28} {rows:>12,}")
    import json

    truth = target / "incidents.json"
    if world.get("incidents") and truth.exists():
        for row in json.loads(truth.read_text()):
            click.echo(f"  incident {row['spec']}: {row['sessions_affected']:,} sessions failed at "
                       f"{row['step']}, {row['orders_lost']:,} orders lost")  # fmt: skip


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


# -- tracker -------------------------------------------------------------------------------
@main.group()
def tracker() -> None:
    """tracker.js, the browser tracker: try it by hand against a real collector."""


@tracker.command("demo")
@click.option("--port", default=8710, show_default=True, type=int, help="port of the demo shop")
@click.option("--collector-port", default=8700, show_default=True, type=int)
@click.option(
    "--consent",
    default="opt-out",
    show_default=True,
    type=click.Choice(["opt-in", "opt-out"]),
    help="the tracker's default consent (pages opened with ?region=XX use the regional defaults)",
)
def tracker_demo(port: int, collector_port: int, consent: str) -> None:
    """Start a collector and the demo shop (consent banner, log in / log out, a panel of each event sent
    and the collector's answer) on 127.0.0.1 until Ctrl-C. Events land in $EVENTS_LANDING_DIR, else in
    a new temporary directory (printed)."""
    import signal
    import tempfile

    from ingestion.events.collector import CollectorConfig, running_collector
    from ingestion.events.collector.server import running_app
    from ingestion.events.tracker.demo_server import create_demo_app

    explicit = os.environ.get("EVENTS_LANDING_DIR")
    landing = (
        Path(explicit).resolve()
        if explicit
        else Path(tempfile.mkdtemp(prefix="journey-tracker-demo-")) / "landing" / "events"
    )
    shop_origins = (f"http://127.0.0.1:{port}", f"http://localhost:{port}")
    write_key = os.environ.get("COLLECTOR_WRITE_KEY") or "demo-write-key"  # a browser key: public anyway
    config = CollectorConfig.from_env(landing_dir=landing, cors_origins=shop_origins, write_key=write_key)
    # "Ctrl-C to stop" holds even when started with SIGINT ignored (`journey tracker demo &` from a
    # script, a background CI shell): children inherit an ignored SIGINT and Python keeps it ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with running_collector(config, port=collector_port) as collector_url:
        app = create_demo_app(collector_url, write_key=write_key, consent=consent)
        with running_app(app, port=port) as shop_url:
            click.echo(f"demo shop:  {shop_url}/  (try {shop_url}/?region=DE, ?tracker_delay=2, ?shopify=)")
            click.echo(f"collector:  {collector_url}  (consent default {consent})")
            click.echo(f"events land in {landing} (closed files on rotation or Ctrl-C)")
            click.echo("Ctrl-C to stop")
            sys.stdout.flush()
            try:
                while True:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                click.echo("stopping")


@tracker.command("pixel")
@click.option(
    "--collector", required=True, help="the collector's public base URL, e.g. https://collect.example"
)
@click.option(
    "--write-key", required=True, envvar="COLLECTOR_WRITE_KEY", help="the browser write key (public)"
)
def tracker_pixel(collector: str, write_key: str) -> None:
    """Print the Shopify custom pixel for this collector: paste it in Shopify admin, Settings > Customer
    events > Add custom pixel (docs/events.md, "Shopify Web Pixel")."""
    from ingestion.events.pixel import render_pixel

    try:
        click.echo(render_pixel(collector, write_key), nl=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--collector") from exc


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

# -- segments -------------------------------------------------------------------------------
from ingestion.activation.cli import segments as segments_group  # noqa: E402

main.add_command(segments_group, "segments")


# -- dev ------------------------------------------------------------------------------------
def _die_with_parent() -> None:
    """preexec_fn: on Linux the kernel sends SIGTERM to the child when this process dies (kill -9
    included), so `dg dev` never outlives `journey dev` holding the port and the emulators' URLs.
    orchestration/bin/dbt does the same for dbt under the run's process."""
    import signal

    # Dagster maps SIGTERM onto the SIGINT handler, so a SIGINT ignored by the shell that started us
    # (`journey dev &`, nohup) would make the dev server ignore SIGTERM too and outlive us
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG


class DevServerError(click.ClickException):
    """The dev server exited, or did not answer in time, before the UI could be used."""


def _get(url: str, timeout: float = 2.0) -> bytes | None:
    """The body at `url`, or None while nothing answers there yet."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _location_status(url: str) -> tuple[str, str | None] | None:
    """(load status, load error) of the first code location, from the webserver's GraphQL API; None
    while the webserver cannot say yet."""
    import json
    import urllib.error
    import urllib.request

    query = (
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
        "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
    )
    req = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            entries = json.loads(resp.read())["data"]["workspaceOrError"].get("locationEntries") or []
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError, KeyError, TypeError):
        return None
    if not entries:
        return None
    entry = entries[0]
    error = entry.get("locationOrLoadError") or {}
    return entry["loadStatus"], error.get("message") if error.get("__typename") == "PythonError" else None


def wait_until_serving(
    url: str, proc, timeout: float = 600.0, say=click.echo, poll: float = 0.5, every: float = 15.0
) -> str | None:
    """Block until the webserver at `url` answers `/server_info` and has loaded the code location, so
    the URL we print opens a working UI (the webserver binds only after the code server is up, which
    takes a while: dbt parse, imports). Progress is printed every `every` seconds. Raises DevServerError
    when `proc` (the dev server) exits first or `timeout` passes; returns the code location's load error
    (the UI shows it too), None when it loaded."""
    t0 = time.monotonic()
    next_note = t0 + every
    phase = "starting the webserver and loading the code location"
    while True:
        if (code := proc.poll()) is not None:
            raise DevServerError(
                f"the Dagster dev server exited (code {code}) while {phase}; its output is above"
            )
        now = time.monotonic()
        if now - t0 > timeout:
            raise DevServerError(f"{url} did not come up within {timeout:.0f}s while {phase}")
        if phase.startswith("starting"):
            if _get(f"{url}/server_info") is not None:
                phase = "loading the code location"
        elif (status := _location_status(url)) is not None and status[0] == "LOADED":
            return status[1]
        if now >= next_note:
            say(f"{phase} ... ({now - t0:.0f}s)")
            next_note = now + every
        time.sleep(poll)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _emulator_ports() -> dict[str, int]:
    """The fixed emulator ports when free (stable URLs across restarts), else any free port (0), so a
    second `make dev PORT=...` (another checkout, a benchmark) runs beside the first."""
    return {name: port if _port_free(port) else 0 for name, port in EMULATOR_PORTS.items()}


@main.command("dev")
@click.option(
    "--size",
    default=None,
    type=click.Choice(["tiny", "small", "large"]),
    help="the shop to serve (default: the one the warehouse holds; 'small' on a fresh machine)",
)
@click.option("--port", default=3000, show_default=True, type=int, help="the UI's port on 127.0.0.1")
@click.option(
    "--reset",
    is_flag=True,
    help="when the warehouse holds another shop than --size: drop it (as `journey demo` does) instead of refusing",
)
def dev(size: str | None, port: int, reset: bool) -> None:
    """Dagster UI (`dg dev`) on 127.0.0.1 with the embedded warehouse and the emulators of the shop the
    warehouse holds. Refuses a --size that would mix two shops; prints the URL once the UI answers."""
    import subprocess

    from ingestion.sandbox.emulators import running_emulators
    from ingestion.warehouse.paths import PROJECT_ROOT
    from orchestration.demo import (
        WorldMismatch,
        choose_dev_world,
        ensure_world,
        prepare_dev_world,
        prepare_environment,
    )

    if not _port_free(port):
        raise click.ClickException(
            f"port {port} on 127.0.0.1 is in use (another `make dev`?): pick another, `make dev PORT={port + 1}`"
        )
    try:
        size, seed = choose_dev_world(WarehouseSettings.from_env(), size, reset)
        world_dir = prepare_environment(size)  # DAGSTER_HOME (telemetry off), warehouse up, contract
        ensure_world(size, seed)
        prepare_dev_world(WarehouseSettings.from_env(), world_dir, reset)
    except (WorldMismatch, WarehouseError) as exc:
        raise click.ClickException(str(exc)) from exc
    url = f"http://127.0.0.1:{port}"
    with running_emulators(world_dir, ports=_emulator_ports()) as env:
        # DAGSTER_HOME (set by prepare_environment) is the project's instance, telemetry off in its
        # dagster.yaml; dg itself sends nothing either with this set
        child_env = {**os.environ, **env, "DAGSTER_DISABLE_TELEMETRY": "1"}
        dg = Path(sys.executable).parent / "dg"
        click.echo(
            f"[dev] serving the '{size}' shop; starting `dg dev` (the URL follows once the UI answers)"
        )
        proc = subprocess.Popen(
            # dg reads the project from [tool.dg] in pyproject.toml (workspace.yaml is for deployments)
            [str(dg), "dev", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=child_env,
            preexec_fn=_die_with_parent,
        )
        try:
            error = wait_until_serving(url, proc, say=lambda msg: click.echo(f"[dev] {msg}"))
            if error:
                click.echo(
                    f"[dev] the code location failed to load (the UI shows it too):\n{error}", err=True
                )
            click.echo(f"[dev] Dagster UI: {url}  (Ctrl-C to stop; the emulators stop with it)")
            sys.exit(proc.wait())
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait(timeout=30)
        except DevServerError:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
            raise


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
