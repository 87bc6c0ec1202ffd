"""Dagster `Config` for each model, generated from the model package's `Params` dataclass, so a
hyperparameter is declared once (in ml/) and is editable in the launchpad.

A shop-wide default can be set in the environment as `ML_<MODEL>_<PARAM>` (e.g. `ML_LTV_HORIZON_DAYS=273`),
read when the code location loads: the model asset and its scoring asset then share it, in every job
and schedule, without run config. The launchpad still overrides it per run."""

from __future__ import annotations

import dataclasses
import os
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
    fields = {}
    for f in dataclasses.fields(params_cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        fields[f.name] = (hints[f.name], env_default(model_name, f.name, hints[f.name], default))
    return pydantic.create_model(f"{model_name.title().replace('_', '')}Config", __base__=base, **fields)


def env_variable(model_name: str, param: str) -> str:
    return f"ML_{model_name}_{param}".upper()


def env_default(model_name: str, param: str, kind: type, default):
    """`default`, or the value of ML_<MODEL>_<PARAM> when set (parsed as the param's type; a value that
    does not parse fails the code location's load, naming the variable)."""
    name = env_variable(model_name, param)
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        if kind is bool:
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={raw!r} is not a valid {kind.__name__} for {model_name}.{param}") from exc


def params_from(config: dg.Config, params_cls: type):
    names = {f.name for f in dataclasses.fields(params_cls)}
    return params_cls(**{k: v for k, v in config.model_dump().items() if k in names})
