"""What model calls cost: a price per model, in US dollars per million tokens, and each call's cost."""

from __future__ import annotations

from typing import Callable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from agent.llm.types import Usage


class Price(BaseModel):
    """One model's price, US dollars per million tokens (one `[prices."MODEL"]` section)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    input: float = Field(ge=0)  # prompt tokens
    output: float = Field(ge=0)  # completion tokens, reasoning included (providers bill it as output)
    cached_input: float | None = Field(None, ge=0)  # prompt tokens served from the cache; None: as `input`

    def cost(self, prompt_tokens: float, completion_tokens: float, cached_tokens: float = 0) -> float:
        """Dollars for these token counts; cached prompt tokens at the cached price when there is one."""
        cached = min(cached_tokens, prompt_tokens) if self.cached_input is not None else 0
        cached_price = self.cached_input if self.cached_input is not None else self.input
        return ((prompt_tokens - cached) * self.input + cached * cached_price
                + completion_tokens * self.output) / 1_000_000


# Cerebras' published on-demand price for GLM 4.7 (https://cerebras.ai/pricing, "Z.ai GLM 4.7":
# $2.25 per million input tokens, $2.75 per million output tokens; Cerebras lists no cached-token
# discount). Users override or extend it with `[prices."MODEL"]` in .agent.toml.
DEFAULT_PRICES: dict[str, Price] = {"zai-glm-4.7": Price(input=2.25, output=2.75)}


class Pricing:
    """The cost of each role's calls: the role's model, then that model's price."""

    def __init__(self, model_of: Callable[[str], str], prices: Mapping[str, Price]):
        self.model_of = model_of
        self.prices = prices

    def price(self, role: str) -> Price | None:
        return self.prices.get(self.model_of(role))

    def cost(self, role: str, usage: Usage) -> float | None:
        """The dollars one call of `role` cost; None when its model has no price."""
        price = self.price(role)
        if price is None:
            return None
        return round(price.cost(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens), 8)
