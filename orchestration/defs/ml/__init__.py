"""Dagster wrapper of the models in ml/: churn, LTV, recommendations, demand forecast (promoted only
when better, see assets.py) and data-driven attribution (descriptive, published every run)."""

import dagster as dg

from orchestration.defs.ml.assets import ModelSpec, descriptive_asset, model_asset, scoring_asset
from orchestration.defs.ml.resources import model_store_resource

PREDICTIVE = [
    ModelSpec("churn", "ml.churn", ("ml_customer_features", "fct_orders"), ("churn_scores",),
              "Churn (XGBoost): no order within the horizon after the snapshot"),
    ModelSpec("ltv", "ml.ltv", ("ml_customer_features", "fct_orders"), ("ltv_predictions",),
              "LTV (XGBoost Tweedie) vs BG/NBD + Gamma-Gamma"),
    ModelSpec("recommendations", "ml.recommendations",
              ("fct_order_items", "fct_orders", "dim_products", "dim_customers", "fct_sessions"),
              ("product_recommendations", "similar_products"),
              "Product recommendations (implicit-feedback item-item CF) vs popularity"),
    ModelSpec("demand_forecast", "ml.forecast", ("fct_order_items", "fct_orders", "dim_products"),
              ("demand_forecast",), "Demand forecast (Prophet) vs seasonal-naive"),
]  # fmt: skip
DESCRIPTIVE = [
    ModelSpec("attribution", "ml.attribution", ("fct_attribution", "fct_sessions"), ("attribution_data_driven",),
              "Data-driven attribution (Markov removal effect, Shapley) beside the heuristic models"),
]  # fmt: skip

ml_assets = [
    *(model_asset(spec) for spec in PREDICTIVE),
    *(scoring_asset(spec) for spec in PREDICTIVE),
    *(descriptive_asset(spec) for spec in DESCRIPTIVE),
]

defs = dg.Definitions(assets=ml_assets, resources={"model_store": model_store_resource()})

__all__ = ["PREDICTIVE", "DESCRIPTIVE", "ml_assets", "defs"]
