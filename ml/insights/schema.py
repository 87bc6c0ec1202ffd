"""The structured answer the model must return (and the rule generator produces): pydantic, so the
same class gives the JSON schema sent as `response_format` and validates what comes back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Evidence(BaseModel):
    """One metric the insight relies on, named as in the context, with its value."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(description="Metric path in the context JSON: dotted, [i] for list items")
    value: float | str = Field(description="The value of that metric, copied exactly from the context")


class Insight(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headline: str = Field(description="One short sentence")
    observation: str = Field(
        description="What the numbers show; every number written is the value of a cited metric, in its unit"
    )
    recommendation: str = Field(description="What to do or look at next")
    priority: Literal["high", "medium", "low"]
    evidence: list[Evidence] = Field(description="Every metric whose value the text writes")


class InsightList(BaseModel):
    """Wrapper: structured output needs an object at the top level."""

    model_config = ConfigDict(extra="forbid")

    insights: list[Insight]
