"""An httpx client per event loop, for providers that outlive a loop (tests run several)."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import httpx


class LoopLocalClient:
    """Hand out one `httpx.AsyncClient` per running event loop, built with the same options.

    An httpx connection pool belongs to the loop that opened its connections, so a provider cached
    for the whole process must not share one client between loops.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(**self._options)
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


def error_message(response: httpx.Response) -> str:
    """Return the message of an OpenAI-style error body (`{"error": {"message": ...}}`), as Keel's own
    API also sends, or the start of the raw body when it has another shape."""
    try:
        error = response.json().get("error") or {}
        return str(error.get("message") if isinstance(error, dict) else error)
    except (ValueError, AttributeError):
        return response.text[:300]
