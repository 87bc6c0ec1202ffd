"""Fixtures for the dashboards tests: a fake Metabase over real HTTP, and the YAML definitions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboards.model import Dashboard, load_dashboards
from dashboards.provision import DatabaseSpec
from ingestion.sandbox.emulators.server import BackgroundServer
from ingestion.warehouse import WarehouseSettings
from tests.dashboards.fake_metabase import FakeMetabase


def mart_tables() -> dict[str, list[str]]:
    """What a Metabase sync finds in the warehouse's marts: each mart's documented columns (the dbt
    manifest; every mart column is in its YAML, tests/dbt/test_docs_contract.py)."""
    import json

    from orchestration.defs.transform.project import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    return {
        f"{node['schema']}.{node['name']}": list(node["columns"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    }


@pytest.fixture
def fake_metabase() -> Iterator[tuple[FakeMetabase, str]]:
    """A fresh in-memory Metabase per test, served by uvicorn on a free local port; a schema sync finds
    the marts' columns."""
    state = FakeMetabase(tables=mart_tables())
    with BackgroundServer(state.app()) as server:
        yield state, server.url


@pytest.fixture(scope="session")
def definitions() -> list[Dashboard]:
    return load_dashboards()


@pytest.fixture
def db_spec() -> DatabaseSpec:
    return DatabaseSpec(host="host.docker.internal", port=55432, dbname="journey", user="reporter")


@pytest.fixture(scope="session")
def dashboard_warehouse(nightly, warehouse: WarehouseSettings) -> WarehouseSettings:
    """The warehouse as the nightly job leaves it (the shared `nightly` fixture: nightly_job twice on
    the tiny shop: raw loads, dbt, ML, insights), which is what Metabase reads. Cards are run against
    it as the `reporter` role."""
    assert nightly["second"].success, "nightly_job failed; see the e2e tier"
    return warehouse
