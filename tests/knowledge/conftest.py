"""Fixtures for the knowledge tests: a second tenant, knowledge-base configs and embedders."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio
from sqlalchemy import insert

from agentkeel.config.agents import KnowledgeBaseConfig
from agentkeel.knowledge import LocalEmbedder
from agentkeel.store import Database, schema
from tests.knowledge.bag_of_words import BagOfWordsTestEmbedder


@pytest.fixture
def kb() -> KnowledgeBaseConfig:
    return KnowledgeBaseConfig(name=f"kb-{uuid.uuid4().hex[:8]}", chunk_tokens=40, chunk_overlap=5)


@pytest.fixture
def embedder() -> BagOfWordsTestEmbedder:
    return BagOfWordsTestEmbedder()


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    return LocalEmbedder(batch_size=32)


@pytest_asyncio.fixture
async def other_tenant(database: Database) -> str:
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    async with database.engine.begin() as connection:
        await connection.execute(insert(schema.tenants).values(id=tenant_id, name=tenant_id))
    return tenant_id
