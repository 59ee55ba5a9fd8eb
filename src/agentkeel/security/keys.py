"""API keys and tenants. A key is shown once; only its SHA-256 is stored.

A key reads `keel_<prefix>_<secret>`. The prefix is stored in clear to find the row in one indexed
lookup; the comparison of the full hash is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from agentkeel.errors import AuthenticationError, InvalidInputError, NotFoundError
from agentkeel.store import schema

TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KEY_PATTERN = re.compile(r"^keel_([a-z0-9]{12})_([A-Za-z0-9_-]{20,100})$")
DEFAULT_TENANT = "default"
KEY_PREFIX = "keel_"


@dataclass(frozen=True)
class Principal:
    """The caller's tenant, which scopes every read and write of the request."""

    tenant_id: str
    key_id: uuid.UUID | None  # None when keys are not required (dev on loopback)


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def validate_tenant_id(tenant_id: str) -> str:
    if not TENANT_PATTERN.match(tenant_id):
        raise InvalidInputError(
            f"Invalid tenant id {tenant_id!r}: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
            field="tenant",
        )
    return tenant_id


async def ensure_tenant(engine: AsyncEngine, tenant_id: str, name: str | None = None) -> None:
    validate_tenant_id(tenant_id)
    async with engine.begin() as connection:
        await connection.execute(
            pg_insert(schema.tenants).values(id=tenant_id, name=name or tenant_id).on_conflict_do_nothing()
        )


async def create_api_key(engine: AsyncEngine, tenant_id: str, name: str | None = None) -> tuple[uuid.UUID, str]:
    """Create the tenant if needed and a key for it; return (key id, the key). The key is not stored."""
    await ensure_tenant(engine, tenant_id)
    prefix = secrets.token_hex(6)
    key = f"keel_{prefix}_{secrets.token_urlsafe(32)}"
    key_id = uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            schema.api_keys.insert().values(
                id=key_id, tenant_id=tenant_id, prefix=prefix, key_hash=_hash(key), name=name
            )
        )
    return key_id, key


async def revoke_api_key(engine: AsyncEngine, key_id: uuid.UUID) -> None:
    async with engine.begin() as connection:
        result = await connection.execute(
            update(schema.api_keys)
            .where(schema.api_keys.c.id == key_id, schema.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    if result.rowcount == 0:
        raise NotFoundError(f"No active API key with id {key_id}.", field="key_id")


async def count_active_keys(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        value = await connection.scalar(
            select(func.count()).select_from(schema.api_keys).where(schema.api_keys.c.revoked_at.is_(None))
        )
    return int(value or 0)


async def authenticate(engine: AsyncEngine, key: str) -> Principal:
    """Return the principal for `key`, or raise `AuthenticationError` without saying which part failed."""
    match = KEY_PATTERN.match(key)
    if match is None:
        raise AuthenticationError(
            "Invalid API key format. Send 'Authorization: Bearer keel_...' with a key from `keel keys create`."
        )
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(schema.api_keys.c.id, schema.api_keys.c.tenant_id, schema.api_keys.c.key_hash).where(
                    schema.api_keys.c.prefix == match.group(1), schema.api_keys.c.revoked_at.is_(None)
                )
            )
        ).first()
    if row is None or not hmac.compare_digest(row.key_hash, _hash(key)):
        raise AuthenticationError("Unknown or revoked API key.")
    return Principal(tenant_id=row.tenant_id, key_id=row.id)
