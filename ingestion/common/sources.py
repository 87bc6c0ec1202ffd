"""Whether a source is configured, and why (or why not): what `journey sources` prints, what the
Dagster assets of an unconfigured source report instead of failing.

A source is configured when its settings are present in the environment: credentials for a vendor API,
a path for the order history export, a landing directory for tracked events. Each source package's
`settings.py` answers with a `SourceStatus`; ingestion/sources.py lists the packages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceStatus:
    source: str
    configured: bool
    reason: str  # configured: what configures it; not configured: what to set


def credentials_status(
    source: str, env: Mapping[str, str], required: Sequence[str], detail: str = ""
) -> SourceStatus:
    """Configured when every variable in `required` is non-empty; never reveals their values."""
    missing = [name for name in required if not env.get(name)]
    if missing:
        return SourceStatus(source, False, f"set {', '.join(missing)}")
    return SourceStatus(source, True, f"{', '.join(required)} set{f' ({detail})' if detail else ''}")
