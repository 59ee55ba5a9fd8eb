"""Any endpoint that speaks OpenAI chat completions: OpenAI itself, orq.ai, vLLM, Ollama, LiteLLM."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any

import openai

from agentkeel.errors import UpstreamError, UpstreamTimeoutError
from agentkeel.gateway.pricing import cost_of
from agentkeel.gateway.types import ChatRequest, ChatResult, StreamEvent, TextDelta, ToolCall, Usage

logger = logging.getLogger(__name__)


class OpenAICompatibleProvider:
    """Streams chat completions through the official `openai` client with its retries turned off,
    because the gateway's router is the only retry layer."""

    name = "openai_compatible"
    supports_tools = True

    def __init__(self, *, api_key: str, base_url: str | None = None, timeout_s: float = 60.0) -> None:
        self.base_url = base_url
        self._client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": request.timeout_s,
        }
        if request.tools:
            kwargs["tools"] = request.tools

        content: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish_reason: str | None = None
        usage: Usage | None = None
        model = request.model
        try:
            stream = await self._client.chat.completions.create(**kwargs)
        except openai.APIError as exc:
            raise _translate(exc, self.base_url) from exc
        try:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = Usage(
                        input_tokens=chunk.usage.prompt_tokens,
                        output_tokens=chunk.usage.completion_tokens,
                        cost_usd=cost_of(self.name, model, chunk.usage.prompt_tokens, chunk.usage.completion_tokens),
                    )
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        content.append(delta.content)
                        yield TextDelta(delta.content)
                    for call_delta in delta.tool_calls or []:
                        slot = calls.setdefault(call_delta.index, {"id": "", "name": "", "arguments": ""})
                        if call_delta.id:
                            slot["id"] = call_delta.id
                        if call_delta.function is not None:
                            slot["name"] += call_delta.function.name or ""
                            slot["arguments"] += call_delta.function.arguments or ""
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        except openai.APIError as exc:
            raise _translate(exc, self.base_url) from exc
        finally:
            await stream.close()

        if usage is None:
            # Some OpenAI-compatible servers ignore stream_options; estimate so usage is never missing.
            text = "".join(content)
            usage = _estimate_usage(self.name, model, request, text)
        yield ChatResult(
            provider=self.name,
            model=model,
            content="".join(content),
            tool_calls=[
                ToolCall(id=slot["id"] or f"call_{index}", name=slot["name"], arguments=slot["arguments"] or "{}")
                for index, slot in sorted(calls.items())
            ],
            finish_reason=finish_reason,
            usage=usage,
        )


def _estimate_usage(provider: str, model: str, request: ChatRequest, text: str) -> Usage:
    prompt_chars = sum(len(str(message.get("content") or "")) for message in request.messages)
    # NOTE: about four characters per token for English text; only used when the server sends no usage.
    input_tokens, output_tokens = prompt_chars // 4 + 1, len(text) // 4 + (1 if text else 0)
    return Usage(input_tokens, output_tokens, cost_of(provider, model, input_tokens, output_tokens), estimated=True)


def _translate(exc: openai.APIError, base_url: str | None) -> UpstreamError:
    where = base_url or "api.openai.com"
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamTimeoutError(f"The model provider at {where} timed out.", provider="openai_compatible")
    if isinstance(exc, openai.APIStatusError):
        return UpstreamError(
            f"The model provider at {where} answered HTTP {exc.status_code}: {exc.message}",
            provider="openai_compatible",
            upstream_status=exc.status_code,
        )
    return UpstreamError(f"The model provider at {where} failed: {exc}", provider="openai_compatible")
