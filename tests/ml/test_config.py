"""Model Config generated from each package's Params: defaults, and shop-wide defaults from the
environment (ML_<MODEL>_<PARAM>) shared by a model asset and its scoring asset."""

from __future__ import annotations

import pytest

import ml.churn
import ml.ltv
from orchestration.defs.ml.config import config_class, params_from


def test_params_defaults_become_config_defaults():
    config = config_class("ltv", ml.ltv.Params)()
    assert params_from(config, ml.ltv.Params) == ml.ltv.Params()
    assert config.promotion_tolerance == 0.02


def test_an_environment_default_changes_the_horizon_of_model_and_scoring(monkeypatch):
    monkeypatch.setenv("ML_LTV_HORIZON_DAYS", "273")
    monkeypatch.setenv("ML_CHURN_N_JOBS", "1")
    ltv_params = params_from(config_class("ltv", ml.ltv.Params)(), ml.ltv.Params)
    assert ltv_params.horizon_days == 273 and ltv_params.n_estimators == ml.ltv.Params().n_estimators
    assert params_from(config_class("churn", ml.churn.Params)(), ml.churn.Params).n_jobs == 1
    # the launchpad still overrides it per run
    assert config_class("ltv", ml.ltv.Params)(horizon_days=180).horizon_days == 180


def test_an_environment_default_that_does_not_parse_names_the_variable(monkeypatch):
    monkeypatch.setenv("ML_LTV_HORIZON_DAYS", "nine months")
    with pytest.raises(ValueError, match="ML_LTV_HORIZON_DAYS='nine months' is not a valid int"):
        config_class("ltv", ml.ltv.Params)
