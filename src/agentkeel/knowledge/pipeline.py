"""The ingestion pipeline shared by files, in-memory texts and built-in sources.

For each document: compare its content hash with the stored one and skip it when equal; otherwise
parse and chunk it in a worker thread, embed the chunks in batches, and replace the document's chunks
in one transaction, so readers see either the old or the new chunks, never a mix.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio.to_thread
from sqlalchemy import delete, func, insert, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from agentkeel.config.agents import KnowledgeBaseConfig
from agentkeel.errors import UpstreamError
from agentkeel.knowledge.bases import ensure_knowledge_base
from agentkeel.knowledge.chunking import Chunk, chunk_sections
from agentkeel.knowledge.embedders import Embedder
from agentkeel.knowledge.errors import DocumentLoadError
from agentkeel.knowledge.loaders import ParsedDocument
from agentkeel.store import schema

logger = logging.getLogger(__name__)


class IngestProgress(Protocol):
    """Callbacks for a progress display; the pipeline calls them on the event loop."""

    def on_file_start(self, total_files: int) -> None:
        """Called before each document; `total_files` is the number of documents in this run."""

    def on_file_done(self, source: str, chunks: int) -> None:
        """Called after each document with the chunks written for it (0 when unchanged or failed)."""

    def on_chunks_embedded(self, n: int) -> None:
        """Called after each embedding batch with the number of chunks in the batch."""


@dataclass
class IngestReport:
    """Counts for one ingestion run; `failed` lists (source, reason) for each skipped document."""

    files_seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_written: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Candidate:
    """A document before parsing: its identity, the SHA-256 of its content and how to parse it."""

    source: str
    content_hash: str
    size_bytes: int
    parse: Callable[[], ParsedDocument]


async def run_pipeline(
    engine: AsyncEngine,
    tenant_id: str,
    kb: KnowledgeBaseConfig,
    embedder: Embedder,
    candidates: Sequence[Candidate],
    failed: Sequence[tuple[str, str]] = (),
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Store `candidates` in the knowledge base; `failed` carries failures found before parsing.

    A document that raises `DocumentLoadError` is listed in the report and skipped. Embedding and
    database errors propagate, and documents stored before the error stay stored.
    """
    started = time.perf_counter()
    report = IngestReport(files_seen=len(candidates) + len(failed), failed=list(failed))
    knowledge_base_id = await ensure_knowledge_base(engine, tenant_id, kb, embedder)
    stored_hashes = await _stored_hashes(engine, tenant_id, knowledge_base_id)

    for candidate in candidates:
        if progress is not None:
            progress.on_file_start(len(candidates))
        written = 0
        if stored_hashes.get(candidate.source) == candidate.content_hash:
            report.unchanged += 1
        else:
            try:
                parsed, chunks = await anyio.to_thread.run_sync(_parse_and_chunk, candidate, kb)
            except DocumentLoadError as exc:
                logger.warning("Skipped document %s: %s", candidate.source, exc.reason)
                report.failed.append((candidate.source, exc.reason))
            else:
                inserted = await _store_document(
                    engine, tenant_id, knowledge_base_id, embedder, kb, candidate, parsed, chunks, progress
                )
                stored_hashes[candidate.source] = candidate.content_hash
                written = len(chunks)
                report.chunks_written += written
                if inserted:
                    report.added += 1
                else:
                    report.updated += 1
        if progress is not None:
            progress.on_file_done(candidate.source, written)

    report.seconds = time.perf_counter() - started
    logger.info(
        "Ingested into knowledge base %s for tenant %s: %d added, %d updated, %d unchanged, "
        "%d failed, %d chunks written in %.2f s",
        kb.name,
        tenant_id,
        report.added,
        report.updated,
        report.unchanged,
        len(report.failed),
        report.chunks_written,
        report.seconds,
    )
    return report


def _parse_and_chunk(candidate: Candidate, kb: KnowledgeBaseConfig) -> tuple[ParsedDocument, list[Chunk]]:
    parsed = candidate.parse()
    chunks = chunk_sections(parsed.sections, chunk_tokens=kb.chunk_tokens, chunk_overlap=kb.chunk_overlap)
    return parsed, chunks


async def _stored_hashes(engine: AsyncEngine, tenant_id: str, knowledge_base_id: uuid.UUID) -> dict[str, str]:
    documents = schema.documents
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(documents.c.source, documents.c.content_hash).where(
                documents.c.tenant_id == tenant_id, documents.c.knowledge_base_id == knowledge_base_id
            )
        )
        return {row.source: row.content_hash for row in rows}


async def _store_document(
    engine: AsyncEngine,
    tenant_id: str,
    knowledge_base_id: uuid.UUID,
    embedder: Embedder,
    kb: KnowledgeBaseConfig,
    candidate: Candidate,
    parsed: ParsedDocument,
    chunks: list[Chunk],
    progress: IngestProgress | None,
) -> bool:
    """Embed `chunks` and replace the document's chunks; return True when the document is new."""
    reusable = await _reusable_vectors(engine, tenant_id, knowledge_base_id, candidate.source)
    vectors = await _embed_chunks(embedder, chunks, reusable, kb.embedder.batch_size, progress)

    documents = schema.documents
    upsert = pg_insert(documents).values(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        knowledge_base_id=knowledge_base_id,
        source=candidate.source,
        title=parsed.title,
        content_hash=candidate.content_hash,
        size_bytes=candidate.size_bytes,
        chunk_count=len(chunks),
    )
    statement = upsert.on_conflict_do_update(
        index_elements=[documents.c.knowledge_base_id, documents.c.source],
        set_={
            "title": upsert.excluded.title,
            "content_hash": upsert.excluded.content_hash,
            "size_bytes": upsert.excluded.size_bytes,
            "chunk_count": upsert.excluded.chunk_count,
            "updated_at": func.now(),
        },
    ).returning(documents.c.id, literal_column("(xmax = 0)").label("inserted"))
    chunk_rows: list[dict[str, Any]] = []
    async with engine.begin() as connection:
        document = (await connection.execute(statement)).one()
        await connection.execute(
            delete(schema.chunks).where(
                schema.chunks.c.tenant_id == tenant_id, schema.chunks.c.document_id == document.id
            )
        )
        for chunk, vector in zip(chunks, vectors, strict=True):
            chunk_rows.append(
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "knowledge_base_id": knowledge_base_id,
                    "document_id": document.id,
                    "ordinal": chunk.ordinal,
                    "heading": chunk.heading,
                    "content": chunk.content,
                    "content_hash": chunk.content_hash,
                    "token_count": chunk.token_count,
                    "embedding": vector,
                    "embedding_dim": embedder.dimension,
                }
            )
        if chunk_rows:
            await connection.execute(insert(schema.chunks), chunk_rows)
    logger.debug("Stored %s with %d chunks", candidate.source, len(chunks))
    return bool(document.inserted)


async def _reusable_vectors(
    engine: AsyncEngine, tenant_id: str, knowledge_base_id: uuid.UUID, source: str
) -> dict[tuple[str, str], list[float]]:
    """Return the stored vectors of a document's chunks, keyed by (heading, content hash).

    An edited document usually keeps most of its chunks; reusing their vectors avoids embedding them again.
    """
    chunks, documents = schema.chunks, schema.documents
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(chunks.c.heading, chunks.c.content_hash, chunks.c.embedding)
            .join(documents, documents.c.id == chunks.c.document_id)
            .where(
                documents.c.tenant_id == tenant_id,
                documents.c.knowledge_base_id == knowledge_base_id,
                documents.c.source == source,
                chunks.c.tenant_id == tenant_id,
            )
        )
        return {(row.heading, row.content_hash): [float(value) for value in row.embedding] for row in rows}


async def _embed_chunks(
    embedder: Embedder,
    chunks: list[Chunk],
    reusable: dict[tuple[str, str], list[float]],
    batch_size: int,
    progress: IngestProgress | None,
) -> list[list[float]]:
    """Return one vector per chunk, embedding only chunks without a reusable vector."""
    vectors: list[list[float] | None] = [reusable.get((chunk.heading, chunk.content_hash)) for chunk in chunks]
    pending = [index for index, vector in enumerate(vectors) if vector is None]
    for offset in range(0, len(pending), batch_size):
        batch = pending[offset : offset + batch_size]
        texts = [embedding_text(chunks[index]) for index in batch]
        embedded = await embedder.embed(texts)
        if len(embedded) != len(texts) or any(len(vector) != embedder.dimension for vector in embedded):
            raise UpstreamError(
                f"Embedder {embedder.model!r} returned {len(embedded)} vectors with dimensions "
                f"{sorted({len(vector) for vector in embedded})} for {len(texts)} texts; expected "
                f"{len(texts)} vectors of {embedder.dimension} dimensions."
            )
        for index, vector in zip(batch, embedded, strict=True):
            vectors[index] = vector
        if progress is not None:
            progress.on_chunks_embedded(len(batch))
    return [vector for vector in vectors if vector is not None]


def embedding_text(chunk: Chunk) -> str:
    """Return the text embedded for a chunk: its heading path, then its content."""
    return f"{chunk.heading}\n\n{chunk.content}" if chunk.heading else chunk.content
