"""Shared fixtures: one embedded PostgreSQL 18 + pgvector per test session, tenants per test."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import insert

from agentkeel.store import Database, open_database, schema

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="keel-test-") as directory:
        yield Path(directory)


@pytest_asyncio.fixture(scope="session")
async def database(data_dir: Path) -> AsyncIterator[Database]:
    """The embedded server, or `KEEL_TEST_DATABASE_URL` when a test run points at another Postgres."""
    db = await open_database(os.environ.get("KEEL_TEST_DATABASE_URL"), data_dir)
    yield db
    await db.close()


@pytest_asyncio.fixture
async def tenant(database: Database) -> str:
    """A fresh tenant per test keeps tests independent without truncating shared tables."""
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    async with database.engine.begin() as connection:
        await connection.execute(insert(schema.tenants).values(id=tenant_id, name=tenant_id))
    return tenant_id
