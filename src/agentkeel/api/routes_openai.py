"""OpenAI-compatible endpoints: `model` names a Keel agent, sessions come from metadata or `user`.

A request with a session id (`metadata.session_id`, or `user` when it is a UUID) continues that
session: Keel's stored history is used and only the last user message is new. Without one, Keel
creates a session, stores the earlier request messages as its history, and returns the new id in
the `X-Keel-Session-Id` header and the `keel.session_id` field.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agentkeel.agent import AnswerDelta, TurnDone, run_turn
from agentkeel.api.auth import get_principal
from agentkeel.api.errors import error_body
from agentkeel.api.models import MAX_CONTENT_CHARS, ErrorOut
from agentkeel.api.sse import SSE_HEADERS, prepend, sse_event
from agentkeel.errors import InvalidInputError, KeelError
from agentkeel.security import Principal
from agentkeel.sessions import create_session

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorOut} for status in (401, 404, 409, 422, 502, 504)}


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=64, description="The name of a Keel agent.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, max_length=256)
    metadata: dict[str, str] | None = None
    max_tokens: int | None = Field(default=None, ge=1, description="Lowers the agent's model.max_tokens.")
    max_completion_tokens: int | None = Field(default=None, ge=1, description="Same as max_tokens.")


def _text(message: ChatMessage, index: int) -> str:
    if isinstance(message.content, str):
        return message.content
    if message.content is None:
        return ""
    parts = []
    for part in message.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise InvalidInputError(
                f"messages[{index}].content: only text parts are supported, got type {part.get('type')!r}.",
                field=f"messages[{index}].content",
            )
        parts.append(part["text"])
    return "\n".join(parts)


def _session_id(body: ChatCompletionRequest) -> uuid.UUID | None:
    raw = (body.metadata or {}).get("session_id") or body.user
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        if body.metadata and "session_id" in body.metadata:
            raise InvalidInputError(
                f"metadata.session_id {raw!r} is not a UUID. Use the id returned when the session was created.",
                field="metadata.session_id",
            ) from None
        return None  # a free-form `user` string is an end-user label, not a session id


@router.get("/models")
async def list_models(request: Request, principal: Principal = Depends(get_principal)) -> dict[str, Any]:
    created = int(request.app.state.started_at)
    return {
        "object": "list",
        "data": [
            {
                "id": agent.name,
                "object": "model",
                "created": created,
                "owned_by": "keel",
                "description": agent.description,
            }
            for agent in request.app.state.runtime.config.agents
        ],
    }


@router.post("/chat/completions", responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}})
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key", max_length=255),
    principal: Principal = Depends(get_principal),
) -> Any:
    runtime = request.app.state.runtime
    agent = runtime.agent(body.model)
    last = body.messages[-1]
    if last.role != "user":
        raise InvalidInputError(
            f"The last message must have role 'user', got {last.role!r}.",
            field=f"messages[{len(body.messages) - 1}].role",
        )
    content = _text(last, len(body.messages) - 1)
    if len(content) > MAX_CONTENT_CHARS:
        raise InvalidInputError(f"The last message exceeds {MAX_CONTENT_CHARS} characters.", field="messages")

    session_id = _session_id(body)
    prior: list[dict[str, str]] = []
    if session_id is None:
        # System messages are ignored: the agent's own system prompt from keel.yaml applies.
        for index, message in enumerate(body.messages[:-1]):
            if message.role in ("user", "assistant"):
                prior.append({"role": message.role, "content": _text(message, index)})
        session = await create_session(runtime.engine, principal.tenant_id, agent.name, {"created_by": "openai"})
        session_id = session["id"]

    events = run_turn(
        runtime,
        tenant_id=principal.tenant_id,
        session_id=session_id,
        content=content,
        idempotency_key=idempotency_key,
        prior_messages=prior,
        max_tokens=body.max_completion_tokens or body.max_tokens,
    )
    first = await anext(events)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    headers = {"X-Keel-Session-Id": str(session_id)}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = _openai_stream(first, events, completion_id, created, body.model, include_usage)
        return StreamingResponse(stream, media_type="text/event-stream", headers={**SSE_HEADERS, **headers})

    response: dict[str, Any] | None = first.response if isinstance(first, TurnDone) else None
    async for event in events:
        if isinstance(event, TurnDone):
            response = event.response
    if response is None:
        raise KeelError("The turn ended without a result.")
    return JSONResponse(_completion(response, completion_id, created, body.model), headers=headers)


def _usage(response: dict[str, Any]) -> dict[str, int]:
    usage = response.get("usage") or {}
    prompt, completion = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _keel_fields(response: dict[str, Any]) -> dict[str, Any]:
    message = response.get("message") or {}
    return {
        "session_id": response.get("session_id"),
        "turn_id": response.get("turn_id"),
        "trace_id": response.get("trace_id"),
        "citations": message.get("citations", []),
        "cost_usd": (response.get("usage") or {}).get("cost_usd"),
    }


def _completion(response: dict[str, Any], completion_id: str, created: int, model: str) -> dict[str, Any]:
    message = response.get("message") or {}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": message.get("content", "")},
                "finish_reason": response.get("finish_reason") or "stop",
            }
        ],
        "usage": _usage(response),
        "keel": _keel_fields(response),
    }


async def _openai_stream(
    first: Any, events: AsyncGenerator[Any, None], completion_id: str, created: int, model: str, include_usage: bool
) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> bytes:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            **extra,
        }
        return sse_event(None, body)

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for event in prepend(first, events):
            if isinstance(event, AnswerDelta):
                yield chunk({"content": event.text})
            elif isinstance(event, TurnDone):
                if event.replayed:
                    yield chunk({"content": (event.response.get("message") or {}).get("content", "")})
                finish_reason = event.response.get("finish_reason") or "stop"
                yield chunk({}, finish_reason, keel=_keel_fields(event.response))
                if include_usage:
                    body = {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": _usage(event.response),
                    }
                    yield sse_event(None, body)
        yield sse_event(None, "[DONE]")
    except KeelError as exc:
        yield sse_event(None, error_body(exc.code, exc.message, field=exc.field))
    finally:
        await events.aclose()
