"""One turn of the agent loop: retrieve, call the model, run tools, store the answer, trace it all.

`run_turn` is an async generator of `TurnEvent`s so the API can stream. If its consumer stops early
(the client disconnected), generation stops, the usage so far is recorded with `estimated=True`, and
the partial answer is stored as `interrupted`, never as a complete assistant message.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

from agentkeel.agent.prompt import TOOL_CONTEXT, format_context, render_system_prompt, trim_history
from agentkeel.agent.runtime import AgentRuntime
from agentkeel.agent.tools import (
    SEARCH_TOOL_NAME,
    SEARCH_TOOL_SCHEMA,
    ToolOutcome,
    call_http_tool,
    http_tool_schema,
    parse_arguments,
)
from agentkeel.config import AgentConfig
from agentkeel.errors import InvalidInputError, KeelError, UpstreamError, UpstreamTimeoutError
from agentkeel.gateway import ChatRequest, ChatResult, Provider, TextDelta, ToolCall, Usage, cost_of, format_usd
from agentkeel.knowledge import RetrievedChunk, count_tokens, retrieve
from agentkeel.sessions import TurnHandle, TurnOutcome, TurnReplay, begin_turn, finish_turn
from agentkeel.tracing import Trace

logger = logging.getLogger(__name__)

CITATION_MARK = re.compile(r"\[(\d{1,3})\]")
LEASE_MARGIN_S = 30.0


@dataclass(frozen=True)
class TurnStarted:
    turn_id: uuid.UUID
    session_id: uuid.UUID
    trace_id: uuid.UUID


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class ToolActivity:
    name: str
    status: str  # ok | error


@dataclass(frozen=True)
class TurnDone:
    response: dict[str, Any]
    replayed: bool = False


TurnEvent = TurnStarted | AnswerDelta | ToolActivity | TurnDone


@dataclass
class _TurnState:
    """Output of the turn so far, read when the turn ends, however it ends."""

    offered: list[RetrievedChunk] = field(default_factory=list)
    answer_parts: list[str] = field(default_factory=list)
    tool_messages: list[dict[str, Any]] = field(default_factory=list)
    usages: list[tuple[str, str, Usage]] = field(default_factory=list)  # (provider, model, usage)
    inflight: ChatRequest | None = None
    inflight_provider: Provider | None = None
    model: str | None = None
    finish_reason: str | None = None


def validate_message(content: Any, agent: AgentConfig, *, field_name: str = "content") -> str:
    """Reject empty, whitespace-only and oversized messages with the field and the limit."""
    if not isinstance(content, str):
        raise InvalidInputError(f"{field_name} must be a string.", field=field_name)
    if not content.strip():
        raise InvalidInputError(f"{field_name} is empty; send at least one non-whitespace character.", field=field_name)
    limit = agent.limits.max_input_chars
    if len(content) > limit:
        raise InvalidInputError(
            f"{field_name} has {len(content)} characters; agent {agent.name!r} accepts at most {limit} "
            "(limits.max_input_chars in keel.yaml). Shorten the message or raise the limit.",
            field=field_name,
            limit=limit,
            length=len(content),
        )
    return content


async def run_turn(
    runtime: AgentRuntime,
    *,
    tenant_id: str,
    session_id: uuid.UUID,
    content: str,
    idempotency_key: str | None = None,
    prior_messages: Sequence[dict[str, str]] = (),
    max_tokens: int | None = None,
) -> AsyncGenerator[TurnEvent, None]:
    """Answer `content` in the session; yields `TurnStarted`, deltas and tool activity, then `TurnDone`.

    Raises `NotFoundError`, `InvalidInputError`, `SessionBusyError` before anything is stored, and
    `UpstreamError` after storing a `failed` answer when the model or the deadline fails.
    `max_tokens` lowers the agent's `model.max_tokens` for this turn and never raises it.
    """
    agent = runtime.agent(await runtime.session_agent(tenant_id, session_id))
    validate_message(content, agent)
    provider = runtime.provider_for(agent)
    started = time.perf_counter()
    deadline = asyncio.get_running_loop().time() + agent.limits.turn_timeout_s

    handle = await begin_turn(
        runtime.engine,
        tenant_id=tenant_id,
        session_id=session_id,
        content=content,
        agent=agent.name,
        config_hash=agent.config_hash(),
        idempotency_key=idempotency_key,
        lease_s=agent.limits.turn_timeout_s + LEASE_MARGIN_S,
        prior_messages=prior_messages,
    )
    if isinstance(handle, TurnReplay):
        _raise_stored_error(handle.response)
        yield TurnDone(handle.response, replayed=True)
        return

    trace = Trace(
        tenant_id=tenant_id,
        session_id=session_id,
        turn_id=handle.turn_id,
        name=f"turn {agent.name}",
        agent=agent.name,
        config_hash=agent.config_hash(),
    )
    state = _TurnState()
    yield TurnStarted(turn_id=handle.turn_id, session_id=session_id, trace_id=trace.id)

    failure: Exception | None = None
    try:
        token_limit = min(agent.model.max_tokens, max_tokens or agent.model.max_tokens)
        steps = _answer(runtime, agent, provider, handle, content, trace, state, deadline, token_limit)
        async with aclosing(steps):
            async for event in steps:
                yield event
    except Exception as exc:
        failure = exc
        if not isinstance(exc, KeelError):
            logger.exception("turn %s failed unexpectedly", handle.turn_id, extra={"trace_id": str(trace.id)})
    except BaseException:
        # GeneratorExit or cancellation: the client went away. Store what exists, then let it propagate.
        with anyio.CancelScope(shield=True):
            await _store(runtime, agent, handle, trace, state, started, "interrupted", None)
        raise

    status = "failed" if failure is not None else "complete"
    response = await _store(runtime, agent, handle, trace, state, started, status, failure)
    if failure is not None:
        if isinstance(failure, KeelError):
            raise failure
        raise UpstreamError(f"The turn failed: {type(failure).__name__}. See trace {trace.id}.") from failure
    yield TurnDone(response)


async def _answer(
    runtime: AgentRuntime,
    agent: AgentConfig,
    provider: Provider,
    handle: TurnHandle,
    content: str,
    trace: Trace,
    state: _TurnState,
    deadline: float,
    max_tokens: int,
) -> AsyncGenerator[TurnEvent, None]:
    kb = runtime.knowledge_base_for(agent)
    mode = agent.retrieval.mode
    if kb is None:
        mode = "off"
    elif mode == "auto":
        mode = "tool" if provider.supports_tools else "pre"
    elif mode == "tool" and not provider.supports_tools:
        mode = "pre"  # the model cannot call tools, so retrieval runs before the model call instead

    context = ""
    if mode == "pre":
        state.offered = await _retrieve(runtime, agent, trace, handle.tenant_id, content)
        context = format_context(state.offered)
    elif mode == "tool":
        context = TOOL_CONTEXT

    messages: list[dict[str, Any]] = [{"role": "system", "content": render_system_prompt(agent, context)}]
    messages += trim_history(handle.history, agent.limits.history_tokens)
    messages.append({"role": "user", "content": content})

    tools: list[dict[str, Any]] = []
    if provider.supports_tools:
        if mode == "tool":
            tools.append(SEARCH_TOOL_SCHEMA)
        tools += [http_tool_schema(tool) for tool in agent.tools]

    for step in range(agent.limits.max_steps):
        last_step = step == agent.limits.max_steps - 1
        request = ChatRequest(
            messages=list(messages),
            model=agent.model.name,
            tools=tools if tools and not last_step else None,
            temperature=agent.model.temperature,
            max_tokens=max_tokens,
            timeout_s=agent.model.timeout_s,
        )
        result: ChatResult | None = None
        state.answer_parts.clear()
        state.inflight, state.inflight_provider = request, provider
        with trace.span(f"llm {provider.name}", "llm", step=step, provider=provider.name) as span:
            async with aclosing(provider.stream(request)) as stream:
                while True:
                    try:
                        async with asyncio.timeout_at(deadline):
                            event = await anext(stream)
                    except StopAsyncIteration:
                        break
                    except TimeoutError as exc:
                        raise UpstreamTimeoutError(
                            f"The turn exceeded limits.turn_timeout_s={agent.limits.turn_timeout_s:g} s "
                            f"of agent {agent.name!r}.",
                            limit=agent.limits.turn_timeout_s,
                        ) from exc
                    if isinstance(event, TextDelta):
                        state.answer_parts.append(event.text)
                        yield AnswerDelta(event.text)
                    else:
                        result = event
            if result is None:
                raise UpstreamError(f"Provider {provider.name} ended its stream without a result.")
            span.record_usage(result.usage, result.model)
            span.attributes["finish_reason"] = result.finish_reason
        state.inflight = None
        state.model = result.model
        state.finish_reason = result.finish_reason
        state.usages.append((provider.name, result.model, result.usage))

        if not result.tool_calls:
            state.answer_parts = [result.content]
            return

        assistant = {
            "role": "assistant",
            "content": result.content or "",
            "tool_calls": [c.to_message() for c in result.tool_calls],
        }
        messages.append(assistant)
        state.tool_messages.append(assistant)
        for call in result.tool_calls:
            outcome = await _run_tool(runtime, agent, trace, handle.tenant_id, call, state)
            yield ToolActivity(name=call.name, status="ok" if outcome.ok else "error")
            tool_message = {"role": "tool", "tool_call_id": call.id, "content": outcome.content}
            messages.append(tool_message)
            state.tool_messages.append(tool_message)


async def _retrieve(
    runtime: AgentRuntime, agent: AgentConfig, trace: Trace, tenant_id: str, query: str
) -> list[RetrievedChunk]:
    kb = runtime.knowledge_base_for(agent)
    if kb is None:
        return []
    with trace.span("retrieval", "retrieval", knowledge_base=kb.name, top_k=agent.retrieval.top_k) as span:
        chunks = await retrieve(runtime.engine, tenant_id, kb, runtime.embedder_for(kb), query, agent.retrieval.top_k)
        span.attributes["results"] = len(chunks)
        span.attributes["chunk_ids"] = [str(chunk.chunk_id) for chunk in chunks]
    return chunks


async def _run_tool(
    runtime: AgentRuntime, agent: AgentConfig, trace: Trace, tenant_id: str, call: ToolCall, state: _TurnState
) -> ToolOutcome:
    with trace.span(f"tool {call.name}", "tool", tool=call.name) as span:
        if call.name == SEARCH_TOOL_NAME:
            outcome = await _search_tool(runtime, agent, trace, tenant_id, call, state)
        else:
            tool = next((t for t in agent.tools if t.name == call.name), None)
            if tool is None:
                message = f"unknown tool {call.name!r}"
                outcome = ToolOutcome(content=f"error: {message}", ok=False, error=message)
            else:
                outcome = await call_http_tool(runtime.http, tool, call.arguments)
        span.attributes.update(outcome.attributes)
        if not outcome.ok:
            span.status, span.error = "error", outcome.error
    return outcome


async def _search_tool(
    runtime: AgentRuntime, agent: AgentConfig, trace: Trace, tenant_id: str, call: ToolCall, state: _TurnState
) -> ToolOutcome:
    schema = SEARCH_TOOL_SCHEMA["function"]["parameters"]
    try:
        arguments = parse_arguments(call.arguments, schema)
    except ValueError as exc:
        return ToolOutcome(content=f"error: {exc}", ok=False, error=str(exc))
    query = str(arguments["query"])[: agent.limits.max_input_chars]
    chunks = await _retrieve(runtime, agent, trace, tenant_id, query)
    start = len(state.offered) + 1
    state.offered.extend(chunks)
    return ToolOutcome(content=format_context(chunks, start=start), ok=True, attributes={"results": len(chunks)})


def cite(answer: str, offered: Sequence[RetrievedChunk]) -> list[dict[str, Any]]:
    """Citations for the chunks the answer marks as [n]; when it marks none, all chunks it was given.

    NOTE: with no [n] marks there is no way to tell which chunks the model used, so every offered
    chunk is cited; small models such as SmolLM2 rarely write the marks.
    """
    numbers = sorted({int(match.group(1)) for match in CITATION_MARK.finditer(answer)})
    chosen = [(n, offered[n - 1]) for n in numbers if 1 <= n <= len(offered)]
    if not chosen:
        chosen = list(enumerate(offered, start=1))
    return [
        {
            "number": number,
            "source": chunk.source,
            "heading": chunk.heading,
            "chunk_id": str(chunk.chunk_id),
            "document_id": str(chunk.document_id),
        }
        for number, chunk in chosen
    ]


async def _store(
    runtime: AgentRuntime,
    agent: AgentConfig,
    handle: TurnHandle,
    trace: Trace,
    state: _TurnState,
    started: float,
    status: str,
    failure: Exception | None,
) -> dict[str, Any]:
    """Persist the outcome and submit the trace; used for complete, failed and interrupted turns."""
    answer = "".join(state.answer_parts)
    if state.inflight is not None and state.inflight_provider is not None:
        # A provider call was cut short: estimate its usage from what was sent and received so far.
        provider = state.inflight_provider
        input_tokens = sum(count_tokens(str(m.get("content") or "")) + 4 for m in state.inflight.messages)
        output_tokens = count_tokens(answer)
        usage = Usage(
            input_tokens,
            output_tokens,
            cost_of(provider.name, state.inflight.model, input_tokens, output_tokens),
            estimated=True,
        )
        state.usages.append((provider.name, state.inflight.model, usage))
        open_llm = [span for span in trace.spans if span.kind == "llm"]
        if open_llm:
            open_llm[-1].record_usage(usage, state.inflight.model)
    total = sum((usage for _, _, usage in state.usages), Usage())
    latency_ms = (time.perf_counter() - started) * 1000
    error_text = None
    if failure is not None:
        error_text = failure.message if isinstance(failure, KeelError) else f"{type(failure).__name__}: {failure}"
    record = trace.finish("ok" if status == "complete" else status, error_text)

    citations = cite(answer, state.offered) if status == "complete" else []
    response: dict[str, Any] = {
        "turn_id": str(handle.turn_id),
        "session_id": str(handle.session_id),
        "trace_id": str(trace.id),
        "agent": agent.name,
        "model": state.model or agent.model.name,
        "status": status,
        # "length" means the answer stopped at the agent's model.max_tokens.
        "finish_reason": state.finish_reason if status == "complete" else None,
        "usage": {
            "input_tokens": total.input_tokens,
            "output_tokens": total.output_tokens,
            "cost_usd": format_usd(total.cost_usd),
            "estimated": total.estimated,
        },
        "latency_ms": round(latency_ms, 2),
    }
    if failure is not None:
        code = failure.code if isinstance(failure, KeelError) else "internal_error"
        response["error"] = {"code": code, "message": error_text}
    now = datetime.now(UTC)
    outcome = TurnOutcome(
        status=status,
        content=answer,
        citations=citations,
        tool_messages=state.tool_messages,
        input_tokens=total.input_tokens,
        output_tokens=total.output_tokens,
        cost_usd=total.cost_usd,
        latency_ms=latency_ms,
        trace_id=trace.id,
        usage_rows=[
            {
                "id": uuid.uuid4(),
                "tenant_id": handle.tenant_id,
                "session_id": handle.session_id,
                "turn_id": handle.turn_id,
                "trace_id": trace.id,
                "provider": provider_name,
                "model": model,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cost_usd": usage.cost_usd,
                "estimated": usage.estimated,
                "created_at": now,
            }
            for provider_name, model, usage in state.usages
        ],
        response=response,
    )
    message = await finish_turn(runtime.engine, handle, outcome)
    runtime.traces.submit(record)
    runtime.notify_turn_finished(response)
    logger.info(
        "turn finished",
        extra={
            "turn_id": str(handle.turn_id),
            "session_id": str(handle.session_id),
            "agent": agent.name,
            "status": status,
            "latency_ms": round(latency_ms, 1),
            "input_tokens": total.input_tokens,
            "output_tokens": total.output_tokens,
        },
    )
    return {**response, "message": message or {}}


def _raise_stored_error(response: dict[str, Any]) -> None:
    error = response.get("error")
    if isinstance(error, dict):
        raise UpstreamError(str(error.get("message")), replayed=True, turn_id=response.get("turn_id"))
