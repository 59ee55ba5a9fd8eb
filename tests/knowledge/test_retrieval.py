from __future__ import annotations

import math
import random
import uuid

import pytest
from sqlalchemy import insert, text

from agentkeel.config.agents import EmbedderConfig, KnowledgeBaseConfig
from agentkeel.errors import InvalidInputError
from agentkeel.knowledge import (
    EmbedderMismatchError,
    LocalEmbedder,
    SourceDocument,
    ensure_knowledge_base,
    ingest_python_reference,
    ingest_texts,
    retrieve,
)
from agentkeel.knowledge.retrieval import RRF_K, candidate_count, hybrid_query, hybrid_search
from agentkeel.store import Database, schema
from tests.knowledge.bag_of_words import BagOfWordsTestEmbedder

SUPPORT_DOCUMENTS = [
    SourceDocument(source="refunds", text="# Refunds\n\nRefunds are paid back to the original card within a week."),
    SourceDocument(source="shipping", text="# Shipping\n\nOrders ship from our warehouse in two business days."),
    SourceDocument(source="errors", text="# Troubleshooting\n\nThe device shows code E4512 when the battery fails."),
    SourceDocument(source="accounts", text="# Accounts\n\nReset your password from the login page."),
]


def random_unit_vector(generator: random.Random, dimension: int = 384) -> list[float]:
    vector = [generator.gauss(0, 1) for _ in range(dimension)]
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


async def insert_random_chunks(
    database: Database, tenant_id: str, knowledge_base_id: uuid.UUID, count: int, generator: random.Random
) -> None:
    """Insert `count` chunks with random 384-dimensional vectors straight into the tables."""
    document_id = uuid.uuid4()
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "knowledge_base_id": knowledge_base_id,
            "document_id": document_id,
            "ordinal": ordinal,
            "heading": "bulk",
            "content": f"bulk chunk {ordinal}",
            "content_hash": f"hash-{ordinal}",
            "token_count": 3,
            "embedding": random_unit_vector(generator),
            "embedding_dim": 384,
        }
        for ordinal in range(count)
    ]
    async with database.engine.begin() as connection:
        await connection.execute(
            insert(schema.documents).values(
                id=document_id,
                tenant_id=tenant_id,
                knowledge_base_id=knowledge_base_id,
                source=f"bulk-{tenant_id}",
                content_hash="bulk",
                size_bytes=0,
                chunk_count=count,
            )
        )
        await connection.execute(insert(schema.chunks), rows)


@pytest.mark.local_model
async def test_exact_keyword_match_ranks_first(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, local_embedder: LocalEmbedder
) -> None:
    await ingest_texts(database.engine, tenant, kb, local_embedder, SUPPORT_DOCUMENTS)

    results = await retrieve(database.engine, tenant, kb, local_embedder, "E4512", k=3)

    assert results[0].source == "errors"
    assert results[0].text_rank == 1
    assert all(result.text_rank is None for result in results[1:])


@pytest.mark.local_model
async def test_semantic_match_without_shared_words(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, local_embedder: LocalEmbedder
) -> None:
    await ingest_texts(database.engine, tenant, kb, local_embedder, SUPPORT_DOCUMENTS)

    results = await retrieve(database.engine, tenant, kb, local_embedder, "I forgot my credentials", k=2)

    assert results[0].source == "accounts"
    assert results[0].vector_rank == 1


async def test_score_is_reciprocal_rank_fusion(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    await ingest_texts(database.engine, tenant, kb, embedder, SUPPORT_DOCUMENTS)

    results = await retrieve(database.engine, tenant, kb, embedder, "refunds card", k=4)

    assert len(results) == 4
    for result in results:
        expected = sum(1 / (RRF_K + rank) for rank in (result.vector_rank, result.text_rank) if rank is not None)
        assert result.score == pytest.approx(expected)
    assert [result.score for result in results] == sorted((result.score for result in results), reverse=True)


async def test_tenants_see_only_their_chunks(
    database: Database, tenant: str, other_tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    await ingest_texts(database.engine, tenant, kb, embedder, SUPPORT_DOCUMENTS)
    await ingest_texts(
        database.engine, other_tenant, kb, embedder, [SourceDocument(source="other-refunds", text="Refunds card week")]
    )

    results_a = await retrieve(database.engine, tenant, kb, embedder, "refunds card week", k=10)
    results_b = await retrieve(database.engine, other_tenant, kb, embedder, "refunds card week", k=10)

    assert {result.source for result in results_a} == {document.source for document in SUPPORT_DOCUMENTS}
    assert [result.source for result in results_b] == ["other-refunds"]


async def test_missing_knowledge_base_returns_nothing(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    assert await retrieve(database.engine, tenant, kb, embedder, "anything", k=3) == []


async def test_retrieve_with_other_embedder_raises(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    await ingest_texts(database.engine, tenant, kb, embedder, SUPPORT_DOCUMENTS)

    with pytest.raises(EmbedderMismatchError):
        await retrieve(database.engine, tenant, kb, BagOfWordsTestEmbedder(dimension=24), "refunds", k=3)


@pytest.mark.parametrize(("query", "k"), [("refunds", 0), ("refunds", 101), ("  ", 3)])
async def test_invalid_query_or_k_rejected(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder, query: str, k: int
) -> None:
    with pytest.raises(InvalidInputError):
        await retrieve(database.engine, tenant, kb, embedder, query, k=k)


async def test_other_dimension_retrieves(database: Database, tenant: str) -> None:
    small = BagOfWordsTestEmbedder(dimension=24)
    kb = KnowledgeBaseConfig(name="small-dimension", embedder=EmbedderConfig(dimension=24))
    await ingest_texts(database.engine, tenant, kb, small, SUPPORT_DOCUMENTS)

    results = await retrieve(database.engine, tenant, kb, small, "password login page", k=2)

    assert results[0].source == "accounts"


async def test_small_tenant_share_still_returns_k(
    database: Database, tenant: str, other_tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    generator = random.Random(20240611)
    big_id = await ensure_knowledge_base(database.engine, tenant, kb, embedder)
    small_id = await ensure_knowledge_base(database.engine, other_tenant, kb, embedder)
    await insert_random_chunks(database, tenant, big_id, 2000, generator)
    await insert_random_chunks(database, other_tenant, small_id, 8, generator)
    query_vector = random_unit_vector(generator)

    via_api = await retrieve(database.engine, other_tenant, kb, embedder, "bulk", k=5)

    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        # Without the (tenant_id, knowledge_base_id) index and sequential scans, the planner must
        # take the HNSW index, whose first ef_search neighbors mostly belong to the other tenant.
        await connection.execute(text("DROP INDEX chunks_scope"))
        await connection.execute(text("SET LOCAL enable_seqscan = off"))
        results = await hybrid_search(
            connection,
            tenant_id=other_tenant,
            knowledge_base_id=small_id,
            dimension=384,
            query_text="nothing matches this",
            query_vector=query_vector,
            k=5,
        )
        parameters = {
            "tenant_id": other_tenant,
            "knowledge_base_id": small_id,
            "query_vector": "[" + ",".join(map(str, query_vector)) + "]",
            "query_text": "nothing matches this",
            "candidates": candidate_count(5),
            "k": 5,
        }
        plan = "\n".join((await connection.execute(text("EXPLAIN " + hybrid_query(384).text), parameters)).scalars())
        await connection.execute(text("SET LOCAL hnsw.iterative_scan = off"))
        await connection.execute(text("SET LOCAL hnsw.ef_search = 40"))
        without_iterative_scan = (await connection.execute(hybrid_query(384), parameters)).all()
        await transaction.rollback()

    assert len(via_api) == 5
    assert "chunks_embedding_hnsw_384" in plan
    assert len(results) == 5
    assert {result.source for result in results} == {f"bulk-{other_tenant}"}
    assert len(without_iterative_scan) < 5


@pytest.mark.local_model
async def test_python_reference_answers_with_statement(
    database: Database, tenant: str, local_embedder: LocalEmbedder
) -> None:
    kb = KnowledgeBaseConfig(name="python-reference")

    report = await ingest_python_reference(database.engine, tenant, kb, local_embedder, limit=30)
    results = await retrieve(database.engine, tenant, kb, local_embedder, "how does the with statement work", k=3)

    assert report.added == 30
    assert any("context expression" in result.content for result in results)


async def test_query_text_is_not_search_syntax(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    await ingest_texts(database.engine, tenant, kb, embedder, SUPPORT_DOCUMENTS)
    for query in ("generator " + "-" * 40 + " function", '"unbalanced quote', "refunds OR -card", "!!! & | :*"):
        results = await retrieve(database.engine, tenant, kb, embedder, query, k=2)
        assert len(results) == 2, query
