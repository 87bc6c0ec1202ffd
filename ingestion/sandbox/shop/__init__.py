"""The deterministic simulated shop (docs/sandbox.md): `generate_world`, `advance_world`, `load_world`.

No Dagster here: the `journey sandbox` CLI and the demo call these functions directly.
"""

from ingestion.sandbox.shop.config import SIZES
from ingestion.sandbox.shop.world import advance_world, generate_world, load_world

__all__ = ["SIZES", "advance_world", "generate_world", "load_world"]
