"""Printing `journey sources check` (also run at the start of `journey demo`, against the emulators)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import click


def print_checks(
    names: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] = click.echo,
) -> int:
    """Check the sources, print one verdict line per source (and its steps), return the exit code:
    0 when every configured source passed, 1 when any failed."""
    from ingestion.sources import check_all

    try:
        results = check_all(names, env)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from exc
    width = max(len(r.source) for r in results)
    for result in results:
        echo(f"{result.source:<{width}}  {result.verdict:<7}  {result.summary()}")
        if result.configured and not result.ok:
            # the failed step is on the verdict line; show how far the check got before it
            for step in (s for s in result.steps if s.ok):
                echo(f"{'':<{width}}    passed {step.name}: {step.detail}")
    failed = [r.source for r in results if r.configured and not r.ok]
    if failed:
        echo(f"\n{len(failed)} source(s) failed: {', '.join(failed)}")
        return 1
    checked = sum(1 for r in results if r.configured)
    echo(
        f"\n{checked} configured source(s) OK"
        + ("" if checked else " (none configured: see `journey sources`)")
    )
    return 0
