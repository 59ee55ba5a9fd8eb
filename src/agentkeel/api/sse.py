"""Server-Sent Events framing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any


def sse_event(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, default=str, separators=(",", ":"))
    lines = [] if event is None else [f"event: {event}"]
    lines += [f"data: {line}" for line in payload.split("\n")]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def prepend(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Yield `first`, then the rest: routes read the first turn event early to pick a status code."""
    yield first
    async for event in rest:
        yield event
