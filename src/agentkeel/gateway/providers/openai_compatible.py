"""Any endpoint that speaks OpenAI chat completions: OpenAI itself, orq.ai, vLLM, Ollama, LiteLLM.

This provider talks HTTP through httpx and parses the SSE stream itself instead of using the official
`openai` client. On the turn benchmark (docs/benchmarks.md) the client took about 40% of Keel's CPU
per turn: it builds a pydantic model for every stream chunk and walks every prompt message to
transform request parameters. The wire format is small and stable, and the tests drive it against a
fake server that speaks it, SSE included. There are no retries here because the router is the only
retry layer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from agentkeel.errors import UpstreamError, UpstreamTimeoutError
from agentkeel.gateway.http import LoopLocalClient, error_message
from agentkeel.gateway.pricing import cost_of
from agentkeel.gateway.types import ChatRequest, ChatResult, StreamEvent, TextDelta, ToolCall, Usage

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
CONNECT_TIMEOUT_S = 10.0


class OpenAICompatibleProvider:
    """Stream chat completions from `base_url` (which includes the `/v1` part)."""

    name = "openai_compatible"
    supports_tools = True

    def __init__(self, *, api_key: str, base_url: str | None = None, timeout_s: float = 60.0) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._http = LoopLocalClient(
            headers={"Authorization": f"Bearer {api_key}", "Accept": "text/event-stream"},
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=500, max_keepalive_connections=100),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = request.tools
        timeout = httpx.Timeout(request.timeout_s, connect=min(CONNECT_TIMEOUT_S, request.timeout_s))
        state = _StreamState(model=request.model)
        try:
            async with self._http.get().stream(
                "POST", f"{self.base_url}/chat/completions", json=body, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _status_error(response, self.base_url)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, comments (":") and event names
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    text = state.consume(_parse_chunk(data, self.base_url))
                    if text:
                        yield TextDelta(text)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeoutError(
                f"The model provider at {self.base_url} timed out after {request.timeout_s:g} s.",
                provider=self.name,
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"The model provider at {self.base_url} failed: {type(exc).__name__}: {exc}", provider=self.name
            ) from exc
        yield state.result(self.name, request)


class _StreamState:
    """Content, tool calls, finish reason and usage assembled from stream chunks."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.content: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None

    def consume(self, chunk: dict[str, Any]) -> str:
        """Fold one chunk in and return its new text ('' when it has none)."""
        self.model = chunk.get("model") or self.model
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        text = ""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            if piece:
                text += piece
            for call in delta.get("tool_calls") or ():
                slot = self.calls.setdefault(int(call.get("index", 0)), {"id": "", "name": "", "arguments": ""})
                if call.get("id"):
                    slot["id"] = call["id"]
                function = call.get("function") or {}
                slot["name"] += function.get("name") or ""
                slot["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        if text:
            self.content.append(text)
        return text

    def result(self, provider: str, request: ChatRequest) -> ChatResult:
        text = "".join(self.content)
        if self.usage is not None:
            input_tokens = int(self.usage.get("prompt_tokens") or 0)
            output_tokens = int(self.usage.get("completion_tokens") or 0)
            usage = Usage(input_tokens, output_tokens, cost_of(provider, self.model, input_tokens, output_tokens))
        else:
            # Some OpenAI-compatible servers ignore stream_options, so estimate usage rather than leave it missing.
            usage = _estimate_usage(provider, self.model, request, text)
        return ChatResult(
            provider=provider,
            model=self.model,
            content=text,
            tool_calls=[
                ToolCall(id=slot["id"] or f"call_{index}", name=slot["name"], arguments=slot["arguments"] or "{}")
                for index, slot in sorted(self.calls.items())
            ],
            finish_reason=self.finish_reason,
            usage=usage,
        )


def _parse_chunk(data: str, base_url: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError as exc:
        raise UpstreamError(
            f"The model provider at {base_url} sent a stream event that is not JSON: {data[:200]!r}",
            provider="openai_compatible",
        ) from exc
    if not isinstance(chunk, dict):
        raise UpstreamError(f"The model provider at {base_url} sent a non-object stream event.")
    if "error" in chunk:
        error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": chunk["error"]}
        raise UpstreamError(
            f"The model provider at {base_url} reported an error mid-stream: {error.get('message')}",
            provider="openai_compatible",
        )
    return chunk


def _status_error(response: httpx.Response, base_url: str) -> UpstreamError:
    return UpstreamError(
        f"The model provider at {base_url} returned HTTP {response.status_code}: {error_message(response)}",
        provider="openai_compatible",
        upstream_status=response.status_code,
    )


def _estimate_usage(provider: str, model: str, request: ChatRequest, text: str) -> Usage:
    prompt_chars = sum(len(str(message.get("content") or "")) for message in request.messages)
    # NOTE: about four characters per token for English text; only used when the server sends no usage.
    input_tokens, output_tokens = prompt_chars // 4 + 1, len(text) // 4 + (1 if text else 0)
    return Usage(input_tokens, output_tokens, cost_of(provider, model, input_tokens, output_tokens), estimated=True)
