"""`journey sources check events`: the landing directory exists and the loader can read (and the
collector write) there; how many closed landing files wait to be loaded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ingestion.common.checks import CheckFailed, SourceCheck, run_check
from ingestion.events.landing import closed_landing_files, missing_landing_dir, sandbox_landing_dir
from ingestion.events.settings import events_status


def check(env: Mapping[str, str] | None = None) -> SourceCheck:
    env = os.environ if env is None else env
    status = events_status(env)
    landing = Path(env["EVENTS_LANDING_DIR"]) if env.get("EVENTS_LANDING_DIR") else sandbox_landing_dir(env)

    def directory() -> str:
        if not landing.is_dir():
            raise CheckFailed(missing_landing_dir(landing, env))  # the loader's words (an error there)
        if not os.access(landing, os.R_OK | os.W_OK | os.X_OK):
            raise CheckFailed(f"{landing} is not readable and writable by this user")
        return f"{landing} readable and writable"

    def files() -> str:
        return f"{len(closed_landing_files(landing)):,} closed landing file(s) waiting"

    return run_check("events", [("landing", directory), ("files", files)], status.configured, status.reason)
