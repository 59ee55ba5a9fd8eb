"""The gateway's vocabulary. Messages use the OpenAI chat schema; providers translate at the edge."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """Token counts and cost of one provider call. `estimated` marks counts Keel computed itself
    (for example for a stream cut before the provider reported usage)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    estimated: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            estimated=self.estimated or other.estimated,
        )


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text exactly as the model produced it; it may be invalid JSON

    def to_message(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class ChatRequest:
    messages: list[Message]
    model: str
    tools: list[dict[str, Any]] | None = None
    temperature: float = 0.2
    max_tokens: int = 512
    timeout_s: float = 60.0


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass
class ChatResult:
    """The assembled outcome of one provider call."""

    provider: str
    model: str
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)


StreamEvent = TextDelta | ChatResult


@runtime_checkable
class Provider(Protocol):
    """One model backend. `stream` yields `TextDelta`s and ends with exactly one `ChatResult`.

    Closing the iterator early (client gone) must stop generation and release the connection or
    the model slot. Errors are raised as `agentkeel.errors.UpstreamError` subclasses.
    """

    name: str
    supports_tools: bool

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]: ...


async def complete(provider: Provider, request: ChatRequest) -> ChatResult:
    """Run `request` to the end and return the assembled result."""
    result: ChatResult | None = None
    async for event in provider.stream(request):
        if isinstance(event, ChatResult):
            result = event
    if result is None:
        raise RuntimeError(f"provider {provider.name} ended its stream without a result")
    return result
