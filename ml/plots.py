"""Pictures for asset metadata: a matplotlib figure as a markdown image (a PNG data URI), which the
Dagster UI shows inline in the asset's metadata. Used by the model packages' `extra_markdown`
(churn calibration curve, LTV decile capture, forecast vs actuals with intervals).

matplotlib is imported inside `figure`: the code location imports ml.* for Params and must not pay
for it.
"""

from __future__ import annotations

import base64
import io
from typing import Any


def figure(width: float = 6.0, height: float = 3.0) -> tuple[Any, Any]:
    """A new (fig, ax) on the non-interactive Agg backend, at the size metadata images use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=72)


def png_markdown(fig: Any, alt: str) -> str:
    """`fig` as `![alt](data:image/png;base64,...)`, and closed (figures are not kept across runs)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"![{alt}](data:image/png;base64,{data})"
