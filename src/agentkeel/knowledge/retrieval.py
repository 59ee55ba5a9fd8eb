"""Hybrid retrieval: pgvector nearest neighbors and Postgres full-text search, fused by rank.

Each side returns its own candidates. Reciprocal rank fusion (RRF, Cormack, Clarke and Buettcher,
SIGIR 2009) scores a chunk as the sum of 1 / (60 + rank) over the sides that found it. Because RRF
uses only ranks, cosine distances and `ts_rank_cd` scores need no calibration against each other.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentkeel.config.agents import KnowledgeBaseConfig
from agentkeel.errors import InvalidInputError
from agentkeel.knowledge.bases import check_embedder, find_knowledge_base, validate_dimension
from agentkeel.knowledge.embedders import Embedder

logger = logging.getLogger(__name__)

RRF_K = 60
MAX_K = 100
MIN_CANDIDATES = 20
# pgvector 0.8 accepts hnsw.ef_search from 1 to 1000.
MAX_EF_SEARCH = 1000
MIN_EF_SEARCH = 40


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk found by `retrieve`.

    `score` is the fused RRF score, and a higher score is a better match. `vector_rank` and
    `text_rank` are 1-based ranks on each side, or None when that side did not return the chunk.
    """

    chunk_id: uuid.UUID
    document_id: uuid.UUID
    source: str
    heading: str
    content: str
    score: float
    vector_rank: int | None
    text_rank: int | None


async def retrieve(
    engine: AsyncEngine, tenant_id: str, kb: KnowledgeBaseConfig, embedder: Embedder, query: str, k: int
) -> list[RetrievedChunk]:
    """Return up to `k` chunks of the tenant's knowledge base that best match `query`, best first.

    Returns an empty list when the knowledge base was never created because nothing was ingested
    into it yet, so an agent whose documents are not loaded still replies. Raises `EmbedderMismatchError`
    when `embedder` is not the one the knowledge base was built with, and `InvalidInputError` for an
    empty query or `k` outside 1 to 100.
    """
    if not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be between 1 and {MAX_K} chunks, got {k}.", field="k")
    if not query.strip():
        raise InvalidInputError("The search query is empty. Pass the text to search for.", field="query")

    async with engine.connect() as connection:
        knowledge_base = await find_knowledge_base(connection, tenant_id, kb.name)
    if knowledge_base is None:
        logger.debug("Knowledge base %s of tenant %s does not exist, so no chunks are returned", kb.name, tenant_id)
        return []
    check_embedder(knowledge_base, embedder)

    [query_vector] = await embedder.embed([query])
    async with engine.begin() as connection:
        return await hybrid_search(
            connection,
            tenant_id=tenant_id,
            knowledge_base_id=knowledge_base.id,
            dimension=embedder.dimension,
            query_text=query,
            query_vector=query_vector,
            k=k,
        )


def candidate_count(k: int) -> int:
    """Return how many candidates each side fetches for `k` results."""
    return max(k * 4, MIN_CANDIDATES)


async def hybrid_search(
    connection: AsyncConnection,
    *,
    tenant_id: str,
    knowledge_base_id: uuid.UUID,
    dimension: int,
    query_text: str,
    query_vector: Sequence[float],
    k: int,
) -> list[RetrievedChunk]:
    """Run the fused search on `connection`, which must be inside a transaction.

    The transaction-local settings make the HNSW scan iterative: when the tenant and knowledge-base
    filter rejects most neighbors the index yields, the scan continues instead of returning fewer
    than the requested candidates.
    """
    candidates = candidate_count(k)
    ef_search = min(max(candidates, MIN_EF_SEARCH), MAX_EF_SEARCH)
    # SET takes no bind parameters, so the values are formatted in. Both are ints computed above.
    await connection.execute(text("SET LOCAL hnsw.iterative_scan = 'relaxed_order'"))
    await connection.execute(text(f"SET LOCAL hnsw.ef_search = {ef_search}"))
    # NOTE: plainto_tsquery joins the query's words with AND, so a long natural-language question
    # often matches no chunk on the text side, and the vector side alone ranks the results.
    # NOTE: pgvector stops an iterative scan after hnsw.max_scan_tuples (20,000 by default) visited
    # tuples, so a tenant holding a very small share of a large table can still get fewer results.
    rows = await connection.execute(
        hybrid_query(dimension),
        {
            "tenant_id": tenant_id,
            "knowledge_base_id": knowledge_base_id,
            "query_vector": _vector_literal(query_vector, dimension),
            "query_text": query_text,
            "candidates": candidates,
            "k": k,
        },
    )
    return [
        RetrievedChunk(
            chunk_id=row.chunk_id,
            document_id=row.document_id,
            source=row.source,
            heading=row.heading,
            content=row.content,
            score=float(row.score),
            vector_rank=row.vector_rank,
            text_rank=row.text_rank,
        )
        for row in rows
    ]


def _vector_literal(vector: Sequence[float], dimension: int) -> str:
    if len(vector) != dimension:
        raise InvalidInputError(
            f"The query vector has {len(vector)} dimensions, but the knowledge base stores {dimension}.",
            field="query_vector",
        )
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"


# NOTE: when more chunks match than this, the text side ranks an arbitrary subset of them, so its
# ranking is approximate exactly when the query words are too common to say much.
TEXT_RANK_LIMIT = 1000


@functools.lru_cache(maxsize=32)
def hybrid_query(dimension: int) -> TextClause:
    """Build the fused query for `dimension`.

    The dimension is written as a literal, not a parameter. The planner can use the partial index
    `chunks_embedding_hnsw_<dimension>` only when the query repeats its expression
    `embedding::vector(<dimension>)` and its predicate `embedding_dim = <dimension>` as constants,
    including in the generic plans that asyncpg's prepared statements get after a few executions.
    """
    dimension = validate_dimension(dimension)
    vector = f"embedding::vector({dimension})"
    statement = f"""
WITH nearest AS (
    SELECT id, {vector} <=> CAST(:query_vector AS vector({dimension})) AS distance
    FROM chunks
    WHERE tenant_id = :tenant_id
      AND knowledge_base_id = :knowledge_base_id
      AND embedding_dim = {dimension}
    ORDER BY {vector} <=> CAST(:query_vector AS vector({dimension}))
    LIMIT :candidates
),
vector_hits AS (
    -- relaxed_order scans can return neighbors slightly out of order, so rank them again here.
    SELECT id, row_number() OVER (ORDER BY distance, id) AS rank FROM nearest
),
matched AS (
    -- Rank at most {TEXT_RANK_LIMIT} matching chunks: ts_rank_cd reads every match it scores, and a query
    -- of common words can match a large share of the knowledge base.
    SELECT id, ts_rank_cd(tsv, query) AS text_score
    FROM (
        SELECT id, tsv, query
        -- plainto_tsquery, not websearch_to_tsquery: user text is not search syntax, and PostgreSQL 18's
        -- websearch_to_tsquery fails with "tsquery stack too small" on a run of 32 or more '-'.
        FROM chunks, plainto_tsquery('english', :query_text) AS query
        WHERE tenant_id = :tenant_id
          AND knowledge_base_id = :knowledge_base_id
          AND tsv @@ query
        LIMIT {TEXT_RANK_LIMIT}
    ) AS matches
    ORDER BY text_score DESC
    LIMIT :candidates
),
text_hits AS (
    SELECT id, row_number() OVER (ORDER BY text_score DESC, id) AS rank FROM matched
),
fused AS (
    SELECT coalesce(v.id, t.id) AS id,
           v.rank AS vector_rank,
           t.rank AS text_rank,
           coalesce(1.0 / ({RRF_K} + v.rank), 0) + coalesce(1.0 / ({RRF_K} + t.rank), 0) AS score
    FROM vector_hits AS v FULL OUTER JOIN text_hits AS t ON v.id = t.id
)
SELECT c.id AS chunk_id, c.document_id, d.source, c.heading, c.content,
       f.score, f.vector_rank, f.text_rank
FROM fused AS f
JOIN chunks AS c ON c.id = f.id AND c.tenant_id = :tenant_id
JOIN documents AS d ON d.id = c.document_id AND d.tenant_id = :tenant_id
ORDER BY f.score DESC, f.vector_rank NULLS LAST, c.id
LIMIT :k
"""
    return text(statement)
