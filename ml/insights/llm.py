"""The OpenAI-compatible client: structured output via `chat.completions.parse`, SDK retries with
backoff on 429/5xx, a timeout, one retry on malformed JSON, and errors that say what went wrong.

Works with any OpenAI-compatible endpoint (OPENAI_BASE_URL). The API key is never logged or put
into an error message.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass

import pydantic

from ml.insights.schema import InsightList

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"


class InsightGenerationError(RuntimeError):
    """The endpoint was unreachable, kept failing, or kept answering something that is not the schema."""


@dataclass(frozen=True)
class LLMSettings:
    """Endpoint settings; `api_key=None` means no LLM (the rule-based generator is used)."""

    api_key: str | None = dataclasses.field(default=None, repr=False)
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    timeout: float = 60.0
    max_retries: int = 3

    @classmethod
    def from_env(cls) -> LLMSettings:
        return cls(
            api_key=os.environ.get("OPENAI_API_KEY") or None,
            base_url=os.environ.get("OPENAI_BASE_URL") or None,
            model=os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.api_key)


@dataclass
class Generation:
    insights: InsightList
    prompt_tokens: int
    completion_tokens: int
    requests: int


def sdk_failures() -> tuple[type[Exception], ...]:
    """The openai SDK errors that end a generation (imported here: the SDK loads only when used)."""
    import openai

    return (
        openai.LengthFinishReasonError,
        openai.ContentFilterFinishReasonError,
        openai.APIConnectionError,
        openai.APIStatusError,
    )


def sdk_failure(exc: Exception, endpoint: str, settings: LLMSettings) -> str:
    """What one of `sdk_failures()` means, naming the endpoint and never the key. A truncated or
    filtered answer is not asked for again: at temperature 0 the same prompt ends the same way."""
    import openai

    if isinstance(exc, openai.APIConnectionError):
        return (
            f"LLM endpoint {endpoint} unreachable after {settings.max_retries} retries "
            f"(timeout {settings.timeout}s): {type(exc).__name__}"
        )
    if isinstance(exc, openai.APIStatusError):
        return (
            f"LLM endpoint {endpoint} answered HTTP {exc.status_code} "
            f"(after up to {settings.max_retries} retries for 429/5xx)"
        )
    return f"LLM endpoint {endpoint} stopped before a complete answer for model {settings.model}: {type(exc).__name__}"


class LLMClient:
    """Thin wrapper over `openai.OpenAI` returning validated `InsightList`s and token usage."""

    def __init__(self, settings: LLMSettings) -> None:
        if not settings.api_key:
            raise InsightGenerationError("no OPENAI_API_KEY: use the rule-based generator")
        import openai  # here, not at module level: the code location loads without the SDK (~1 s)

        self.settings = settings
        self._client = openai.OpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )

    @property
    def endpoint(self) -> str:
        return str(self._client.base_url)

    def generate(self, messages: list[dict[str, str]]) -> Generation:
        """One structured completion; a malformed answer is asked for once more, then raises."""

        prompt_tokens = completion_tokens = requests = 0
        last_problem = ""
        for attempt in (1, 2):
            requests += 1
            try:
                completion = self._client.chat.completions.parse(
                    model=self.settings.model, messages=messages, response_format=InsightList, temperature=0
                )
            except (pydantic.ValidationError, json.JSONDecodeError) as exc:
                last_problem = (
                    f"answer is not valid InsightList JSON ({type(exc).__name__}: {str(exc)[:300]})"
                )
                log.warning("malformed answer from %s (attempt %d): %s", self.endpoint, attempt, last_problem)
                continue
            except sdk_failures() as exc:
                raise InsightGenerationError(sdk_failure(exc, self.endpoint, self.settings)) from exc
            usage = completion.usage
            prompt_tokens += usage.prompt_tokens if usage else 0
            completion_tokens += usage.completion_tokens if usage else 0
            parsed = completion.choices[0].message.parsed if completion.choices else None
            if parsed is None:
                last_problem = "answer has no parsed content (refusal or empty)"
                log.warning("empty answer from %s (attempt %d)", self.endpoint, attempt)
                continue
            return Generation(parsed, prompt_tokens, completion_tokens, requests)
        raise InsightGenerationError(
            f"LLM endpoint {self.endpoint} returned malformed JSON twice for model "
            f"{self.settings.model}: {last_problem}"
        )
