"""Dagster `Config` for each model, generated from the model package's `Params` dataclass, so a
hyperparameter is declared once (in ml/) and is editable in the launchpad."""

from __future__ import annotations

import dataclasses
import typing

import dagster as dg
import pydantic
from pydantic import Field

DEFAULT_TOLERANCE = 0.02


class ModelConfig(dg.Config):
    promotion_tolerance: float = Field(
        default=DEFAULT_TOLERANCE,
        description="Relative amount the candidate may trail the champion's primary metric and still be promoted",
    )


def config_class(model_name: str, params_cls: type, base: type[dg.Config] = ModelConfig) -> type[dg.Config]:
    """`base` (ModelConfig: with the promotion tolerance) + one field per `Params` field (same type and
    default)."""
    hints = typing.get_type_hints(params_cls)
    fields = {
        f.name: (hints[f.name], f.default if f.default is not dataclasses.MISSING else f.default_factory())
        for f in dataclasses.fields(params_cls)
    }
    return pydantic.create_model(f"{model_name.title().replace('_', '')}Config", __base__=base, **fields)


def params_from(config: dg.Config, params_cls: type):
    names = {f.name for f in dataclasses.fields(params_cls)}
    return params_cls(**{k: v for k, v in config.model_dump().items() if k in names})
