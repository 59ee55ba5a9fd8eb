"""Traces, health, readiness and metrics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from agentkeel.api.auth import get_principal
from agentkeel.api.models import ErrorOut
from agentkeel.gateway import LocalProvider, cached_providers
from agentkeel.security import Principal
from agentkeel.tracing import get_trace, list_traces

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorOut} for status in (401, 404, 422)}


@router.get("/v1/traces/{trace_id}", tags=["traces"], responses=ERRORS)
async def read_trace(trace_id: uuid.UUID, request: Request, principal: Principal = Depends(get_principal)) -> Any:
    return await get_trace(request.app.state.runtime.engine, principal.tenant_id, trace_id)


@router.get("/v1/traces", tags=["traces"], responses=ERRORS)
async def tail_traces(
    request: Request,
    after: datetime | None = None,
    session_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    principal: Principal = Depends(get_principal),
) -> Any:
    rows = await list_traces(
        request.app.state.runtime.engine, principal.tenant_id, after=after, session_id=session_id, limit=limit
    )
    return {"data": rows}


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """Liveness: the process serves HTTP."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database responds to a query. Also reports the trace queue and the local model's queue."""
    state = request.app.state
    checks: dict[str, Any] = {}
    ready = True
    try:
        await state.database.ping()
        checks["database"] = "ok"
    except (SQLAlchemyError, OSError) as exc:
        ready = False
        checks["database"] = f"failed: {type(exc).__name__}"
    checks["trace_queue_depth"] = state.runtime.traces.queue_depth
    for provider in cached_providers():
        if isinstance(provider, LocalProvider):
            checks["local_model"] = {"concurrency": provider.concurrency, "waiting": provider.waiting}
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", tags=["health"], response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    request.app.state.metrics.refresh(request.app.state.runtime)
    return PlainTextResponse(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
