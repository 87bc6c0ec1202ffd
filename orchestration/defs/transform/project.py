"""The one dbt project of the code location, and a manifest that is always there and current.

`prepare_if_dev()` re-parses under `dagster dev`; everywhere else (tests, CI, `dagster job execute`)
a missing or stale manifest would make the Definitions fail to load or silently lag the SQL, so we
re-parse when any project file is newer than the manifest. Parsing needs no database connection.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from ingestion.warehouse.paths import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
_SOURCE_DIRS = ("models", "macros", "seeds", "tests")
_SOURCE_FILES = ("dbt_project.yml", "profiles.yml")

# dagster-dbt's manifest preparer runs `dbt` from PATH: make it this environment's dbt, also when the
# project runs without `uv run` or an activated venv (e.g. `.venv/bin/journey nightly` from cron)
_ENV_BIN = str(Path(sys.executable).parent)
if _ENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_ENV_BIN, *filter(None, [os.environ.get("PATH")])])

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


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


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """Parse the project when needed (dev: always via prepare_if_dev; elsewhere: when stale)."""
    project.prepare_if_dev()
    if manifest_is_stale(project):
        project.preparer.prepare(project)
    return project.manifest_path
