"""Local emulators of every source API, serving the simulated shop over real HTTP in the vendors' formats.

Each emulator module (shopify, meta, google_ads, ga4) exposes:
    create_app(world_dir: Path, faults: FaultInjector) -> ASGI app
    endpoint_env(base_url: str) -> dict[str, str]     # env vars that point the connector at it
`running_emulators` starts them all and yields the env to apply (the demo, `journey dev`, tests).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ingestion.sandbox.emulators.faults import FaultInjector, FaultMiddleware
from ingestion.sandbox.emulators.server import BackgroundServer

EMULATORS = ("shopify", "meta", "google_ads", "ga4")


@contextmanager
def running_emulator(
    name: str, world_dir: Path, faults: FaultInjector | None = None, port: int = 0
) -> Iterator[tuple[BackgroundServer, dict[str, str], FaultInjector]]:
    """Start one emulator; yields (server, env for the connector, its fault injector)."""
    module = importlib.import_module(f"ingestion.sandbox.emulators.{name}")
    faults = faults or FaultInjector()
    app = FaultMiddleware(module.create_app(Path(world_dir), faults), faults)
    with BackgroundServer(app, port=port) as server:
        yield server, module.endpoint_env(server.url), faults


@contextmanager
def running_emulators(world_dir: Path, ports: dict[str, int] | None = None) -> Iterator[dict[str, str]]:
    """Start every emulator on 127.0.0.1 and yield the merged env that points connectors at them. The
    sandbox's ad account and shop may be written to: segment syncs run live against them
    (`ACTIVATION_DESTINATIONS`), not as the dry runs a real shop gets until it opts in."""
    ports = ports or {}
    env: dict[str, str] = {"ACTIVATION_DESTINATIONS": "meta_custom_audiences,shopify_tags"}
    with ExitStack() as stack:
        for name in EMULATORS:
            _, emulator_env, _ = stack.enter_context(
                running_emulator(name, world_dir, port=ports.get(name, 0))
            )
            env.update(emulator_env)
        yield env
