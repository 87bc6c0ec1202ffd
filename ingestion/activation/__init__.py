"""Activation: segments defined as code over the marts and ML tables, and their sync to destinations
(Meta Custom Audiences, Shopify customer tags). Library code, runnable without Dagster."""
