"""The model store: where trained artifacts go (a local folder by default, any fsspec URL in production)."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from ingestion.warehouse.paths import local_dir
from ml.registry import ModelStore


class ModelStoreResource(dg.ConfigurableResource):
    """MODEL_STORE_URL (e.g. s3://bucket/models); unset = `.local/models` of this checkout."""

    url: str | None = Field(default=None, description="fsspec URL of the model store; unset = .local/models")

    def store(self) -> ModelStore:
        return ModelStore(self.url or str(local_dir() / "models"))


def model_store_resource() -> ModelStoreResource:
    if os.environ.get("MODEL_STORE_URL"):
        return ModelStoreResource(url=dg.EnvVar("MODEL_STORE_URL"))
    return ModelStoreResource()
