"""The principal of a request: from its API key, or the default tenant when keys are optional."""

from __future__ import annotations

import time

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from agentkeel.errors import AuthenticationError
from agentkeel.security import DEFAULT_TENANT, KEY_PREFIX, Principal, authenticate


async def get_principal(request: Request) -> Principal:
    state = request.app.state
    header = request.headers.get("authorization")
    keys_required = state.settings.api_keys_required
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if keys_required or token.startswith(KEY_PREFIX):
            if scheme.lower() != "bearer" or not token:
                raise AuthenticationError("The Authorization header must read 'Bearer <API key>'.")
            return await state.authenticator(token)
        # Keys are optional here, and clients such as the openai SDK always send some token: a
        # token that is not a Keel key is ignored rather than rejected.
    if keys_required:
        raise AuthenticationError(
            "Missing API key. Send 'Authorization: Bearer <key>'; create one with `keel keys create --tenant NAME`."
        )
    return Principal(tenant_id=DEFAULT_TENANT, key_id=None)


class CachedAuthenticator:
    """Authenticate keys with a short in-process cache, so a hot key costs one lookup per TTL.

    NOTE: a revoked key keeps working in this process for up to `ttl_s` seconds.
    """

    def __init__(self, engine: AsyncEngine, ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._clock = time.monotonic

    async def __call__(self, key: str) -> Principal:
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = await authenticate(self._engine, key)
        if len(self._cache) >= self._max_entries:
            self._cache.clear()
        self._cache[key] = (now + self._ttl_s, principal)
        return principal
