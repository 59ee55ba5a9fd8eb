"""Fixtures for the knowledge tests: a second tenant, knowledge-base configs and embedders."""

from __future__ import annotations

import hashlib
import math
import uuid

import pytest
import pytest_asyncio
from sqlalchemy import insert

from agentkeel.config.agents import KnowledgeBaseConfig
from agentkeel.knowledge import LocalEmbedder
from agentkeel.store import Database, schema


class BagOfWordsTestEmbedder:
    """Test-only embedder: hashes lowercased words into a unit vector, so shared words mean similar vectors.

    It is deterministic and fast for tests that store many chunks. It counts the texts it embeds, so
    tests can check that unchanged documents are not embedded again.
    """

    def __init__(self, dimension: int = 384, model: str = "test-bag-of-words") -> None:
        self.model = model
        self.dimension = dimension
        self.texts_embedded = 0

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts_embedded += len(texts)
        return [self._vector(text) for text in texts]

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for word in text.lower().split():
            digest = hashlib.sha256(word.encode()).digest()
            index = int.from_bytes(digest[:4], "big") % self.dimension
            vector[index] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(value * value for value in vector)) or 1.0
        return [value / norm for value in vector]


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
