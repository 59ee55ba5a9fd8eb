"""Read traces back for the API and `keel traces tail`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from agentkeel.errors import NotFoundError
from agentkeel.gateway import format_usd
from agentkeel.store import schema


async def get_trace(engine: AsyncEngine, tenant_id: str, trace_id: uuid.UUID) -> dict[str, Any]:
    """Return the trace with its spans in start order; `NotFoundError` if the tenant has no such trace."""
    async with engine.connect() as connection:
        trace = (
            (
                await connection.execute(
                    select(schema.traces).where(schema.traces.c.tenant_id == tenant_id, schema.traces.c.id == trace_id)
                )
            )
            .mappings()
            .first()
        )
        if trace is None:
            raise NotFoundError(
                f"Trace {trace_id} not found. Traces are written within about a second of a turn ending.",
                field="trace_id",
            )
        spans = (
            (
                await connection.execute(
                    select(schema.spans)
                    .where(schema.spans.c.tenant_id == tenant_id, schema.spans.c.trace_id == trace_id)
                    .order_by(schema.spans.c.started_at)
                )
            )
            .mappings()
            .all()
        )
    return {**_with_cost_text(trace), "spans": [_with_cost_text(span) for span in spans]}


def _with_cost_text(row: Any) -> dict[str, Any]:
    """Costs go out as fixed-point strings, because JSON numbers would lose Decimal precision."""
    values = dict(row)
    values["cost_usd"] = format_usd(values["cost_usd"])
    return values


async def list_traces(
    engine: AsyncEngine,
    tenant_id: str,
    *,
    after: datetime | None = None,
    session_id: uuid.UUID | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Return traces oldest first, started after `after` (exclusive), for tailing."""
    query = select(schema.traces).where(schema.traces.c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(schema.traces.c.started_at > after)
    if session_id is not None:
        query = query.where(schema.traces.c.session_id == session_id)
    if after is None:
        # No cursor: the newest `limit` traces, still returned oldest first.
        inner = query.order_by(schema.traces.c.started_at.desc()).limit(limit).subquery()
        query = select(inner).order_by(inner.c.started_at)
    else:
        query = query.order_by(schema.traces.c.started_at).limit(limit)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [_with_cost_text(row) for row in rows]
