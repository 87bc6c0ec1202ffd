"""`journey sources check`: does a configured source work with the credentials it has, today?

Each source package has `check.py` with `check(env) -> SourceCheck`. A check runs steps in order
(authenticate, scopes/permissions, API version, fetch one page) and stops at the first that fails, with
the reason a person can act on. Steps never print secrets: details name variables, never their values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from ingestion.common.http import SourceAPIError


class CheckFailed(Exception):
    """A step found something wrong; the message says what and what to do."""


@dataclass(frozen=True)
class CheckStep:
    name: str
    ok: bool
    detail: str


@dataclass
class SourceCheck:
    source: str
    configured: bool
    steps: list[CheckStep] = field(default_factory=list)
    reason: str = ""  # not configured: what to set

    @property
    def ok(self) -> bool:
        """A source that is not configured is not a failure: it is skipped."""
        return all(step.ok for step in self.steps)

    @property
    def verdict(self) -> str:
        if not self.configured:
            return "SKIPPED"
        return "OK" if self.ok else "FAILED"

    def summary(self) -> str:
        if not self.configured:
            return f"not configured ({self.reason})"
        failed = next((s for s in self.steps if not s.ok), None)
        if failed is not None:
            return f"{failed.name}: {failed.detail}"
        return "; ".join(f"{s.name}: {s.detail}" for s in self.steps)


# what a step may raise and still be reported as that step's failure (anything else is a bug: it propagates)
STEP_ERRORS = (CheckFailed, SourceAPIError, requests.RequestException, OSError, ValueError, KeyError)


def run_check(
    source: str, steps: list[tuple[str, Callable[[], str]]], configured: bool = True, reason: str = ""
) -> SourceCheck:
    """Run `(name, step)` pairs in order; each returns what it found or raises one of STEP_ERRORS.
    The first failure ends the check (later steps depend on earlier ones)."""
    result = SourceCheck(source, configured, reason=reason)
    if not configured:
        return result
    for name, step in steps:
        try:
            detail = step()
        except STEP_ERRORS as exc:
            result.steps.append(CheckStep(name, False, str(exc) or type(exc).__name__))
            break
        result.steps.append(CheckStep(name, True, detail))
    return result
