"""The native API: sessions and their messages."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from agentkeel.agent import AnswerDelta, ToolActivity, TurnDone, TurnStarted, run_turn
from agentkeel.api.auth import get_principal
from agentkeel.api.errors import error_body
from agentkeel.api.models import (
    CreateSession,
    ErrorOut,
    MessagesOut,
    PostMessage,
    SessionOut,
    TurnOut,
)
from agentkeel.api.sse import SSE_HEADERS, prepend, sse_event
from agentkeel.errors import InvalidInputError, KeelError
from agentkeel.security import Principal
from agentkeel.sessions import MAX_METADATA_BYTES, create_session, delete_session, get_session, list_messages

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorOut} for status in (401, 404, 409, 422, 502, 504)}
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255, description="Retries with the same key return the first result."),
]


@router.post("", status_code=201, response_model=SessionOut, responses=ERRORS)
async def create(body: CreateSession, request: Request, principal: Principal = Depends(get_principal)) -> Any:
    runtime = request.app.state.runtime
    runtime.agent(body.agent)  # NotFoundError names the defined agents
    size = len(json.dumps(body.metadata))
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(
            f"metadata is {size} bytes of JSON; the limit is {MAX_METADATA_BYTES}.",
            field="metadata",
            limit=MAX_METADATA_BYTES,
        )
    return await create_session(runtime.engine, principal.tenant_id, body.agent, body.metadata)


@router.get("/{session_id}", response_model=SessionOut, responses=ERRORS)
async def read(session_id: uuid.UUID, request: Request, principal: Principal = Depends(get_principal)) -> Any:
    return await get_session(request.app.state.runtime.engine, principal.tenant_id, session_id)


@router.delete("/{session_id}", status_code=204, responses=ERRORS)
async def remove(session_id: uuid.UUID, request: Request, principal: Principal = Depends(get_principal)) -> Response:
    await delete_session(request.app.state.runtime.engine, principal.tenant_id, session_id)
    return Response(status_code=204)


@router.get("/{session_id}/messages", response_model=MessagesOut, responses=ERRORS)
async def messages(
    session_id: uuid.UUID,
    request: Request,
    after_seq: Annotated[int, Query(ge=0, le=2_147_483_647)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    principal: Principal = Depends(get_principal),
) -> Any:
    rows = await list_messages(
        request.app.state.runtime.engine, principal.tenant_id, session_id, after_seq=after_seq, limit=limit
    )
    return {"data": rows, "next_after_seq": rows[-1]["seq"] if len(rows) == limit else None}


@router.post(
    "/{session_id}/messages",
    response_model=TurnOut,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
)
async def post_message(
    session_id: uuid.UUID,
    body: PostMessage,
    request: Request,
    idempotency_key: IdempotencyKey = None,
    principal: Principal = Depends(get_principal),
) -> Any:
    """Answer a user message, as JSON or (with `"stream": true`) as Server-Sent Events."""
    runtime = request.app.state.runtime
    events = run_turn(
        runtime,
        tenant_id=principal.tenant_id,
        session_id=session_id,
        content=body.content,
        idempotency_key=idempotency_key,
    )
    # Pull the first event before answering: validation, 404 and 409 then become proper status codes.
    first = await anext(events)
    if not body.stream:
        async for event in prepend(first, events):
            if isinstance(event, TurnDone):
                return {**event.response, "replayed": event.replayed}
        raise KeelError("The turn ended without a result.")
    return StreamingResponse(_native_stream(first, events), media_type="text/event-stream", headers=SSE_HEADERS)


async def _native_stream(first: Any, events: AsyncGenerator[Any, None]) -> AsyncIterator[bytes]:
    try:
        async for event in prepend(first, events):
            if isinstance(event, TurnStarted):
                yield sse_event(
                    "turn.started",
                    {
                        "turn_id": event.turn_id,
                        "session_id": event.session_id,
                        "trace_id": event.trace_id,
                    },
                )
            elif isinstance(event, AnswerDelta):
                yield sse_event("message.delta", {"text": event.text})
            elif isinstance(event, ToolActivity):
                yield sse_event("tool", {"name": event.name, "status": event.status})
            elif isinstance(event, TurnDone):
                yield sse_event("turn.completed", {**event.response, "replayed": event.replayed})
    except KeelError as exc:
        yield sse_event("error", error_body(exc.code, exc.message, field=exc.field))
    finally:
        await events.aclose()
