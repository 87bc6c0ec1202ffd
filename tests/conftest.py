"""Session fixtures shared by every test tier.

Each test run gets its own throwaway PostgreSQL (the same embedded mechanism as `journey warehouse up`,
on another port and data dir) and its own `.local` directory, so tests never touch a developer's data.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings, init_warehouse

# the tiny shop loaded and built by dbt in a database of its own (dbt, ML and insights tiers), and
# nightly_job run twice on it in the default database (e2e and dashboards tiers)
pytest_plugins = ["tests.fixtures.dbt_tiny", "tests.fixtures.nightly_tiny"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def local_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private `.local` for the whole run (sandbox worlds, landing files, model store)."""
    path = tmp_path_factory.mktemp("local")
    old = os.environ.get("JOURNEY_LOCAL_DIR")
    os.environ["JOURNEY_LOCAL_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("JOURNEY_LOCAL_DIR", None)
    else:
        os.environ["JOURNEY_LOCAL_DIR"] = old


@pytest.fixture(scope="session")
def warehouse(local_dir: Path) -> Iterator[WarehouseSettings]:
    """A running throwaway warehouse with the contract's schemas and roles; env points at it."""
    saved = {k: os.environ.get(k) for k in ("WAREHOUSE_URL", "WAREHOUSE_PORT", "WAREHOUSE_DATA_DIR")}
    os.environ.pop("WAREHOUSE_URL", None)
    os.environ["WAREHOUSE_PORT"] = str(free_port())
    os.environ["WAREHOUSE_DATA_DIR"] = str(local_dir / "warehouse")
    settings = WarehouseSettings.from_env()
    server = EmbeddedPostgres(settings)
    server.up()
    init_warehouse(settings)
    yield settings
    server.down()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def tiny_world(local_dir: Path) -> Path:
    """The tiny simulated shop, generated once per run under the private `.local`."""
    from ingestion.sandbox.shop import generate_world

    out = local_dir / "sandbox" / "tiny"
    generate_world("tiny", 42, out)
    return out
