"""The one dbt project of the code location, and a manifest that is always there and current.

A missing or stale manifest would make the Definitions fail to load or silently lag the SQL, so the
project is re-parsed when any project file is newer than the manifest, in every mode (`dg dev`
included). Parsing needs no database connection.

Partial parsing: dbt reuses a `partial_parse.msgpack` only while the state it was written in holds, and
that state includes a hash of the profile's connection (host, port, user, database, schema,
connect_timeout) and of the env vars dbt_project.yml reads (`JOURNEY_CONFIGURED_SOURCES`). dagster-dbt
seeds each invocation's own target dir with the project's `target/partial_parse.msgpack`, so a msgpack
written by a `dbt parse` in another environment than the runs' made every run re-parse the whole
project ("Unable to do partial parsing because profile has changed"). So the parse here runs in exactly
the environment the dbt resource gives its runs (`dbt_parse_environment`), and every parse state is
also kept per environment (`target/partial_parse.<key>.msgpack`, `keep_parse_state`): the resource
seeds each invocation with the one of its environment and keeps what a finished invocation wrote
(orchestration/defs/transform/resources.py), so processes on other warehouses (a test session, a
second shop) never hand each other a state they cannot use. Changed SQL or YAML is still re-parsed:
dbt compares each file's checksum with the one in the msgpack.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtProject

from ingestion.sources import dbt_sources_env
from ingestion.warehouse.errors import WarehouseError
from ingestion.warehouse.paths import PROJECT_ROOT
from ingestion.warehouse.settings import WarehouseSettings, dbt_env
from orchestration.defs.shared.resources import warehouse_resource

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
PARTIAL_PARSE = "partial_parse.msgpack"
KEPT_PARSE_STATES = 8  # per-environment msgpacks kept (~1 MB each): a few warehouses and test sessions
_SOURCE_DIRS = ("models", "macros", "seeds", "tests")
_SOURCE_FILES = ("dbt_project.yml", "profiles.yml")

# dagster-dbt's manifest preparer runs `dbt` from PATH: make it this environment's dbt, also when the
# project runs without `uv run` or an activated venv (e.g. `.venv/bin/journey nightly` from cron)
_ENV_BIN = str(Path(sys.executable).parent)
if _ENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_ENV_BIN, *filter(None, [os.environ.get("PATH")])])

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_parse_environment(settings: WarehouseSettings, role: str = "transformer") -> dict[str, str]:
    """The variables dbt's parse state depends on: profiles.yml's `DBT_PG_*` for `role` on the
    warehouse, and which sources are configured (var `journey_sources` in dbt_project.yml)."""
    return {**dbt_env(settings, role=role), **dbt_sources_env()}


@contextmanager
def environment(overrides: dict[str, str]) -> Iterator[None]:
    """dagster-dbt builds the dbt subprocess's env (and renders the profile in-process) from os.environ."""
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _newest_source_mtime(project_dir: Path) -> float:
    paths = [project_dir / name for name in _SOURCE_FILES]
    for folder in _SOURCE_DIRS:
        paths.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def manifest_is_stale(project: DbtProject) -> bool:
    """True when there is no manifest or a model/macro/seed/test/config file changed since it was written."""
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    return manifest.stat().st_mtime < _newest_source_mtime(project.project_dir)


def target_dir(project: DbtProject = dbt_project) -> Path:
    """The project's target dir as dagster-dbt resolves it (DBT_TARGET_PATH, else the project's)."""
    target = Path(os.environ.get("DBT_TARGET_PATH") or project.target_path)
    return target if target.is_absolute() else Path(project.project_dir) / target


def parse_state_key(env: Mapping[str, str]) -> str:
    """Names the parse environment (a digest: no password kept). dbt checks the full state itself; a
    key that misses something dbt hashes only costs a full parse, never a wrong one."""
    from dbt.version import __version__ as dbt_version

    return hashlib.sha256(repr((dbt_version, sorted(env.items()))).encode()).hexdigest()[:16]


def parse_state_file(key: str, project: DbtProject = dbt_project) -> Path:
    return target_dir(project) / f"partial_parse.{key}.msgpack"


def keep_parse_state(written: Path, key: str, project: DbtProject = dbt_project) -> bool:
    """Keep `written` as the parse state of environment `key` when it is newer than the kept one
    (copied, then renamed into place: readers see the old or the new file, never half of one); only the
    `KEPT_PARSE_STATES` most recent environments are kept."""
    kept = parse_state_file(key, project)
    if not written.exists() or (kept.exists() and kept.stat().st_mtime >= written.stat().st_mtime):
        return False
    staging = kept.with_name(f".{kept.name}.{os.getpid()}")
    shutil.copy2(written, staging)
    os.replace(staging, kept)
    states = sorted(kept.parent.glob("partial_parse.*.msgpack"), key=lambda p: p.stat().st_mtime)
    for old in states[:-KEPT_PARSE_STATES]:
        old.unlink(missing_ok=True)
    return True


def _runs_environment() -> dict[str, str]:
    """The parse environment of the runs' dbt resource (the same `Warehouse` settings it reads)."""
    try:
        return dbt_parse_environment(warehouse_resource().settings())
    except WarehouseError:
        # an external warehouse without the transformer's password: parsing needs no connection, and
        # the first dbt run reports the missing password; a load-time error would hide every asset
        return {}


def _prepared_parse_state(project: DbtProject) -> Path:
    """Where dagster-dbt's preparer (`dbt parse` into the project's target_path) leaves its msgpack."""
    return Path(project.project_dir) / project.target_path / PARTIAL_PARSE


def prepare_manifest(project: DbtProject = dbt_project) -> Path:
    """Parse the project now, in the runs' environment: the manifest and the partial-parse state the
    runs start from (e.g. after the warehouse moved: a test session's own port)."""
    env = _runs_environment()
    with environment(env):
        project.preparer.prepare(project)
    keep_parse_state(_prepared_parse_state(project), parse_state_key(env), project)
    return project.manifest_path


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Parse the project when it is stale (no manifest, or a project file newer than it), in the runs'
    environment, so the partial-parse state it leaves is one the runs can reuse. Not on every load under
    `dg dev` (dagster-dbt's `prepare_if_dev`): there every process (code server, run worker, step
    process) loads the code location, and an unconditional parse cost each ~5 s of CPU; a changed file
    makes the manifest stale, so "Reload" in the UI still re-parses."""
    if not manifest_is_stale(project):
        return project.manifest_path
    return prepare_manifest(project)
