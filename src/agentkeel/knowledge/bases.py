"""Knowledge-base rows and the per-dimension HNSW indexes on `chunks.embedding`."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentkeel.config.agents import KnowledgeBaseConfig
from agentkeel.errors import InvalidInputError, NotFoundError
from agentkeel.knowledge.embedders import Embedder
from agentkeel.knowledge.errors import EmbedderMismatchError
from agentkeel.store import schema

logger = logging.getLogger(__name__)

# The initial migration creates the index for all-MiniLM-L6-v2's 384 dimensions.
MIGRATED_INDEX_DIMENSIONS = frozenset({384})
# pgvector 0.8 builds HNSW indexes on `vector` columns of at most 2,000 dimensions.
MAX_HNSW_DIMENSION = 2000
# Key for pg_advisory_xact_lock(key, dimension), so that concurrent processes create each index once.
INDEX_LOCK_KEY = 0x6B65656C  # "keel" in ASCII

_indexed_dimensions: set[int] = set(MIGRATED_INDEX_DIMENSIONS)


@dataclass(frozen=True)
class KnowledgeBaseRow:
    id: uuid.UUID
    name: str
    embedding_model: str
    embedding_dim: int


async def find_knowledge_base(connection: AsyncConnection, tenant_id: str, name: str) -> KnowledgeBaseRow | None:
    """Return the tenant's knowledge base called `name`, or None when it was never created."""
    table = schema.knowledge_bases
    row = (
        await connection.execute(
            select(table.c.id, table.c.name, table.c.embedding_model, table.c.embedding_dim).where(
                table.c.tenant_id == tenant_id, table.c.name == name
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return KnowledgeBaseRow(
        id=row.id, name=row.name, embedding_model=row.embedding_model, embedding_dim=row.embedding_dim
    )


def check_embedder(knowledge_base: KnowledgeBaseRow, embedder: Embedder) -> None:
    """Raise `EmbedderMismatchError` when `embedder` is not the one the knowledge base was built with."""
    if (knowledge_base.embedding_model, knowledge_base.embedding_dim) != (embedder.model, embedder.dimension):
        raise EmbedderMismatchError(
            knowledge_base.name,
            stored_model=knowledge_base.embedding_model,
            stored_dimension=knowledge_base.embedding_dim,
            model=embedder.model,
            dimension=embedder.dimension,
        )


async def ensure_knowledge_base(
    engine: AsyncEngine, tenant_id: str, kb: KnowledgeBaseConfig, embedder: Embedder
) -> uuid.UUID:
    """Create the knowledge base row if needed and return its id.

    The row stores the embedder's model and dimension. Raises `EmbedderMismatchError` when an existing
    row names another model or dimension. Also creates the HNSW index for the embedder's dimension.
    """
    validate_dimension(embedder.dimension)
    table = schema.knowledge_bases
    statement = (
        insert(table)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            name=kb.name,
            embedding_model=embedder.model,
            embedding_dim=embedder.dimension,
        )
        .on_conflict_do_nothing(index_elements=[table.c.tenant_id, table.c.name])
    )
    try:
        async with engine.begin() as connection:
            await connection.execute(statement)
            row = await find_knowledge_base(connection, tenant_id, kb.name)
    except IntegrityError as exc:
        # The only foreign key on knowledge_bases references tenants.
        raise NotFoundError(
            f"Tenant {tenant_id!r} not found, so knowledge base {kb.name!r} cannot be created. "
            "Create the tenant first.",
            field="tenant_id",
        ) from exc
    if row is None:
        raise RuntimeError(f"knowledge base {kb.name!r} of tenant {tenant_id!r} is missing right after its insert")
    check_embedder(row, embedder)
    await ensure_vector_index(engine, embedder.dimension)
    return row.id


def validate_dimension(dimension: int) -> int:
    """Return `dimension` after checking that it is an int from 1 to 16000, because SQL embeds it as a literal."""
    if isinstance(dimension, bool) or not isinstance(dimension, int) or not 1 <= dimension <= 16_000:
        raise InvalidInputError(
            f"Embedding dimension must be an integer from 1 to 16000 (the pgvector limit), got {dimension!r}.",
            field="embedder.dimension",
        )
    return dimension


async def ensure_vector_index(engine: AsyncEngine, dimension: int) -> None:
    """Create the partial HNSW index `chunks_embedding_hnsw_<dimension>` unless it exists.

    Dimensions above 2,000 get no index, so their searches scan every chunk of the knowledge base.
    """
    dimension = validate_dimension(dimension)
    if dimension in _indexed_dimensions:
        return
    if dimension > MAX_HNSW_DIMENSION:
        logger.warning(
            "No HNSW index for %d-dimensional embeddings because pgvector indexes at most %d dimensions. "
            "Searches in these knowledge bases scan all their chunks",
            dimension,
            MAX_HNSW_DIMENSION,
        )
        _indexed_dimensions.add(dimension)
        return
    name = f"chunks_embedding_hnsw_{dimension}"
    async with engine.begin() as connection:
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key, :dimension)"), {"key": INDEX_LOCK_KEY, "dimension": dimension}
        )
        # NOTE: a plain CREATE INDEX blocks writes to `chunks` while it scans the table, once per new
        # dimension. CREATE INDEX CONCURRENTLY would not block, but it cannot run inside a transaction.
        await connection.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {name} ON chunks "
                f"USING hnsw ((embedding::vector({dimension})) vector_cosine_ops) "
                f"WHERE embedding_dim = {dimension}"
            )
        )
    logger.info("Ensured vector index %s", name)
    _indexed_dimensions.add(dimension)
