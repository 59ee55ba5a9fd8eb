"""Per-token prices in USD, used to turn usage into cost."""

from __future__ import annotations

import logging
from decimal import Decimal

logger = logging.getLogger(__name__)

MILLION = Decimal(1_000_000)

# USD per one million tokens (input, output), from the providers' public price pages as of 2026-11.
# NOTE: prices change; an unlisted model costs 0 and is logged once, so budgets undercount it.
PRICES_PER_MILLION: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1-nano": (Decimal("0.10"), Decimal("0.40")),
    "text-embedding-3-small": (Decimal("0.02"), Decimal("0")),
    "text-embedding-3-large": (Decimal("0.13"), Decimal("0")),
}

_unpriced_logged: set[str] = set()


def cost_of(provider: str, model: str, input_tokens: int, output_tokens: int) -> Decimal:
    """Return the cost in USD; local models are free, unknown models cost 0 (logged once per model)."""
    if provider == "local":
        return Decimal(0)
    prices = PRICES_PER_MILLION.get(model)
    if prices is None:
        if model not in _unpriced_logged:
            _unpriced_logged.add(model)
            logger.warning("no price for model %s; its cost is recorded as 0", model)
        return Decimal(0)
    input_price, output_price = prices
    return (input_price * input_tokens + output_price * output_tokens) / MILLION


def format_usd(value: Decimal) -> str:
    """Render a cost with 8 decimal places, the precision of the `numeric(18, 8)` columns."""
    return f"{value:.8f}"
