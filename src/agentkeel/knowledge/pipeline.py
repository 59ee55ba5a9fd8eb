"""The ingestion pipeline shared by files, in-memory texts and built-in sources.

A document whose content hash equals the stored one is skipped. Any other document is parsed and
chunked in a worker thread, and its chunks are embedded in batches. Its old chunks are then replaced
in one transaction, so readers see either the old or the new chunks, never a mix.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

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
    """Callbacks for a progress display, called on the event loop."""

    def on_file_start(self, total_files: int) -> None:
        """Called before each document with `total_files`, the number of documents in this run."""

    def on_file_done(self, source: str, chunks: int) -> None:
        """Called after each document with the chunks written for it (0 when unchanged or failed)."""

    def on_chunks_embedded(self, n: int) -> None:
        """Called after each embedding batch with the number of chunks in the batch."""


@dataclass
class IngestReport:
    """Counts for one ingestion run. `failed` lists (source, reason) for each skipped document."""

    files_seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_written: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Candidate:
    """A document to ingest: its identity, how to read its bytes and how to parse them.

    Both callables run in a worker thread, one document at a time, so a large directory is never
    held in memory at once. `read` may raise OSError and `parse` may raise `DocumentLoadError`.
    """

    source: str
    read: Callable[[], bytes]
    parse: Callable[[bytes], ParsedDocument]


@dataclass(frozen=True)
class _Content:
    data: bytes
    sha256: str


@dataclass(frozen=True)
class _Outcome:
    status: Literal["added", "updated", "unchanged", "failed"]
    chunks_written: int = 0
    reason: str = ""


async def run_pipeline(
    engine: AsyncEngine,
    tenant_id: str,
    kb: KnowledgeBaseConfig,
    embedder: Embedder,
    candidates: Sequence[Candidate],
    failed: Sequence[tuple[str, str]] = (),
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Store `candidates` in the knowledge base. `failed` lists failures found before reading.

    A document that cannot be read or raises `DocumentLoadError` is listed in the report and
    skipped. Embedding and database errors propagate, and documents stored before the error stay.
    """
    started = time.perf_counter()
    report = IngestReport(files_seen=len(candidates) + len(failed), failed=list(failed))
    knowledge_base_id = await ensure_knowledge_base(engine, tenant_id, kb, embedder)
    run = _Run(engine, tenant_id, knowledge_base_id, kb, embedder, progress)
    await run.load_stored_hashes()

    for candidate in candidates:
        if progress is not None:
            progress.on_file_start(len(candidates))
        outcome = await run.ingest(candidate)
        if outcome.status == "failed":
            logger.warning("Skipped document %s: %s", candidate.source, outcome.reason)
            report.failed.append((candidate.source, outcome.reason))
        elif outcome.status == "unchanged":
            report.unchanged += 1
        elif outcome.status == "added":
            report.added += 1
        else:
            report.updated += 1
        report.chunks_written += outcome.chunks_written
        if progress is not None:
            progress.on_file_done(candidate.source, outcome.chunks_written)

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


@dataclass
class _Run:
    """One ingestion run into one knowledge base of one tenant."""

    engine: AsyncEngine
    tenant_id: str
    knowledge_base_id: uuid.UUID
    kb: KnowledgeBaseConfig
    embedder: Embedder
    progress: IngestProgress | None
    stored_hashes: dict[str, str] = field(default_factory=dict)

    async def load_stored_hashes(self) -> None:
        documents = schema.documents
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(documents.c.source, documents.c.content_hash).where(
                    documents.c.tenant_id == self.tenant_id,
                    documents.c.knowledge_base_id == self.knowledge_base_id,
                )
            )
            self.stored_hashes = {row.source: row.content_hash for row in rows}

    async def ingest(self, candidate: Candidate) -> _Outcome:
        try:
            content = await anyio.to_thread.run_sync(_read, candidate)
        except OSError as exc:
            return _Outcome("failed", reason=f"cannot read the file: {exc.strerror or exc}")
        if self.stored_hashes.get(candidate.source) == content.sha256:
            return _Outcome("unchanged")
        try:
            parsed, chunks = await anyio.to_thread.run_sync(_parse_and_chunk, candidate, content, self.kb)
        except DocumentLoadError as exc:
            return _Outcome("failed", reason=exc.reason)
        inserted = await self.store(candidate.source, content, parsed.title, chunks)
        self.stored_hashes[candidate.source] = content.sha256
        return _Outcome("added" if inserted else "updated", chunks_written=len(chunks))

    async def store(self, source: str, content: _Content, title: str | None, chunks: list[Chunk]) -> bool:
        """Embed `chunks` and replace the document's chunks. Return True when the document is new."""
        reusable = await self.reusable_vectors(source)
        vectors = await self.embed(chunks, reusable)

        documents = schema.documents
        upsert = pg_insert(documents).values(
            id=uuid.uuid4(),
            tenant_id=self.tenant_id,
            knowledge_base_id=self.knowledge_base_id,
            source=source,
            title=title,
            content_hash=content.sha256,
            size_bytes=len(content.data),
            chunk_count=len(chunks),
        )
        # xmax is 0 only on a freshly inserted row version, so `inserted` is false after an update.
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

        async with self.engine.begin() as connection:
            document = (await connection.execute(statement)).one()
            await connection.execute(
                delete(schema.chunks).where(
                    schema.chunks.c.tenant_id == self.tenant_id, schema.chunks.c.document_id == document.id
                )
            )
            rows = [self.chunk_row(document.id, chunk, vector) for chunk, vector in zip(chunks, vectors, strict=True)]
            if rows:
                await connection.execute(insert(schema.chunks), rows)
        logger.debug("Stored %s with %d chunks", source, len(chunks))
        return bool(document.inserted)

    def chunk_row(self, document_id: uuid.UUID, chunk: Chunk, vector: list[float]) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "tenant_id": self.tenant_id,
            "knowledge_base_id": self.knowledge_base_id,
            "document_id": document_id,
            "ordinal": chunk.ordinal,
            "heading": chunk.heading,
            "content": chunk.content,
            "content_hash": chunk.content_hash,
            "token_count": chunk.token_count,
            "embedding": vector,
            "embedding_dim": self.embedder.dimension,
        }

    async def reusable_vectors(self, source: str) -> dict[tuple[str, str], list[float]]:
        """Return the stored vectors of a document's chunks, keyed by (heading, content hash).

        An edited document usually keeps most of its chunks, and reusing their vectors avoids
        embedding them again.
        """
        chunks, documents = schema.chunks, schema.documents
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(chunks.c.heading, chunks.c.content_hash, chunks.c.embedding)
                .join(documents, documents.c.id == chunks.c.document_id)
                .where(
                    documents.c.tenant_id == self.tenant_id,
                    documents.c.knowledge_base_id == self.knowledge_base_id,
                    documents.c.source == source,
                    chunks.c.tenant_id == self.tenant_id,
                )
            )
            return {(row.heading, row.content_hash): [float(value) for value in row.embedding] for row in rows}

    async def embed(self, chunks: list[Chunk], reusable: dict[tuple[str, str], list[float]]) -> list[list[float]]:
        """Return one vector per chunk, embedding only chunks without a reusable vector."""
        vectors = [reusable.get((chunk.heading, chunk.content_hash)) for chunk in chunks]
        pending = [index for index, vector in enumerate(vectors) if vector is None]
        batch_size = self.kb.embedder.batch_size
        for offset in range(0, len(pending), batch_size):
            batch = pending[offset : offset + batch_size]
            texts = [embedding_text(chunks[index]) for index in batch]
            embedded = await self.embedder.embed(texts)
            _check_vectors(self.embedder, texts, embedded)
            for index, vector in zip(batch, embedded, strict=True):
                vectors[index] = vector
            if self.progress is not None:
                self.progress.on_chunks_embedded(len(batch))
        return [vector for vector in vectors if vector is not None]


def _read(candidate: Candidate) -> _Content:
    data = candidate.read()
    return _Content(data=data, sha256=hashlib.sha256(data).hexdigest())


def _parse_and_chunk(
    candidate: Candidate, content: _Content, kb: KnowledgeBaseConfig
) -> tuple[ParsedDocument, list[Chunk]]:
    parsed = candidate.parse(content.data)
    chunks = chunk_sections(parsed.sections, chunk_tokens=kb.chunk_tokens, chunk_overlap=kb.chunk_overlap)
    return parsed, chunks


def _check_vectors(embedder: Embedder, texts: list[str], vectors: list[list[float]]) -> None:
    if len(vectors) != len(texts) or any(len(vector) != embedder.dimension for vector in vectors):
        raise UpstreamError(
            f"Embedder {embedder.model!r} returned {len(vectors)} vectors with dimensions "
            f"{sorted({len(vector) for vector in vectors})} for {len(texts)} texts, but "
            f"{len(texts)} vectors of {embedder.dimension} dimensions were expected."
        )


def embedding_text(chunk: Chunk) -> str:
    """Return the text embedded for a chunk: its heading path, then its content."""
    return f"{chunk.heading}\n\n{chunk.content}" if chunk.heading else chunk.content
