"""Where the project keeps its local state (`.local/`), overridable for tests and deployments."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def local_dir() -> Path:
    """Root of local runtime state: `$JOURNEY_LOCAL_DIR` or `<repo>/.local`."""
    return Path(os.environ.get("JOURNEY_LOCAL_DIR", PROJECT_ROOT / ".local")).resolve()
