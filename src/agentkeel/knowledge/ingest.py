"""Ingestion entry points: files and directories, in-memory texts, the Python reference, deletions.

All of them run the pipeline in `agentkeel.knowledge.pipeline`, which also detects unchanged documents.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from pydoc_data.topics import topics as python_topics

import anyio
import anyio.to_thread
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from agentkeel.config.agents import KnowledgeBaseConfig
from agentkeel.errors import InvalidInputError
from agentkeel.knowledge.bases import find_knowledge_base
from agentkeel.knowledge.embedders import Embedder
from agentkeel.knowledge.loaders import ParsedDocument, SourceDocument, is_supported, parse_bytes, parse_text
from agentkeel.knowledge.pipeline import Candidate, IngestProgress, IngestReport, run_pipeline
from agentkeel.store import schema

logger = logging.getLogger(__name__)

PYTHON_REFERENCE_PREFIX = "python-reference:"


async def ingest_texts(
    engine: AsyncEngine,
    tenant_id: str,
    kb: KnowledgeBaseConfig,
    embedder: Embedder,
    documents: Sequence[SourceDocument],
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Ingest in-memory Markdown or plain-text documents, hashing the UTF-8 text to detect changes."""
    candidates = [
        Candidate(
            source=document.source,
            read=functools.partial(document.text.encode, "utf-8"),
            parse=functools.partial(_parse_source_document, document),
        )
        for document in documents
    ]
    return await run_pipeline(engine, tenant_id, kb, embedder, candidates, (), progress)


async def ingest_paths(
    engine: AsyncEngine,
    tenant_id: str,
    kb: KnowledgeBaseConfig,
    embedder: Embedder,
    paths: list[Path],
    *,
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Ingest files, walking directories recursively for supported extensions.

    A document's source is its resolved path. Directory walks skip hidden files and directories and
    unsupported extensions. A missing path, an unsupported file named directly, or a file that
    cannot be read or parsed is listed in `IngestReport.failed`, and the other files are still stored.
    """
    files, failed = await anyio.to_thread.run_sync(_collect_files, paths)
    candidates = [
        Candidate(
            source=str(path),
            read=path.read_bytes,
            parse=functools.partial(parse_bytes, str(path), path.name),
        )
        for path in files
    ]
    return await run_pipeline(engine, tenant_id, kb, embedder, candidates, failed, progress)


async def ingest_python_reference(
    engine: AsyncEngine,
    tenant_id: str,
    kb: KnowledgeBaseConfig,
    embedder: Embedder,
    progress: IngestProgress | None = None,
    limit: int | None = None,
) -> IngestReport:
    """Ingest the Python language reference topics that ship with CPython (`pydoc_data.topics`).

    Sources are `python-reference:<topic>`, in alphabetical topic order, and `limit` keeps the first
    `limit` topics. Each topic is one plain-text section headed by its name.
    """
    if limit is not None and limit < 0:
        raise InvalidInputError(f"limit must be 0 or more topics, got {limit}.", field="limit")
    names = sorted(python_topics)[:limit]
    documents = [
        SourceDocument(
            source=f"{PYTHON_REFERENCE_PREFIX}{name}",
            text=python_topics[name],
            title=name.replace("-", " ").capitalize(),
            format="plain",
        )
        for name in names
    ]
    return await ingest_texts(engine, tenant_id, kb, embedder, documents, progress)


async def delete_document(engine: AsyncEngine, tenant_id: str, kb_name: str, source: str) -> bool:
    """Delete a document and its chunks, and return False when no such document exists."""
    documents = schema.documents
    async with engine.begin() as connection:
        knowledge_base = await find_knowledge_base(connection, tenant_id, kb_name)
        if knowledge_base is None:
            return False
        result = await connection.execute(
            delete(documents).where(
                documents.c.tenant_id == tenant_id,
                documents.c.knowledge_base_id == knowledge_base.id,
                documents.c.source == source,
            )
        )
    return result.rowcount > 0


async def delete_missing(engine: AsyncEngine, tenant_id: str, kb_name: str, root: Path) -> list[str]:
    """Delete documents whose source is a file under `root` that no longer exists, and return their sources."""
    documents = schema.documents
    root = await anyio.to_thread.run_sync(root.resolve)
    async with engine.connect() as connection:
        knowledge_base = await find_knowledge_base(connection, tenant_id, kb_name)
        if knowledge_base is None:
            return []
        sources = (
            await connection.scalars(
                select(documents.c.source).where(
                    documents.c.tenant_id == tenant_id,
                    documents.c.knowledge_base_id == knowledge_base.id,
                    func.starts_with(documents.c.source, str(root)),
                )
            )
        ).all()
    under_root = [source for source in sources if Path(source).is_relative_to(root)]
    missing = await anyio.to_thread.run_sync(lambda: [source for source in under_root if not Path(source).exists()])
    for source in missing:
        await delete_document(engine, tenant_id, kb_name, source)
    if missing:
        logger.info("Deleted %d documents missing under %s from knowledge base %s", len(missing), root, kb_name)
    return missing


def _parse_source_document(document: SourceDocument, data: bytes) -> ParsedDocument:
    """Parse an in-memory document. `data` is its encoded text, already hashed by the pipeline."""
    return parse_text(document)


def _collect_files(paths: list[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand directories into sorted supported files, and list missing or unsupported paths as failures."""
    files: dict[Path, None] = {}
    failed: list[tuple[str, str]] = []
    for path in paths:
        resolved = path.resolve()
        if resolved.is_dir():
            for directory, subdirectories, names in os.walk(resolved):
                subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
                for name in sorted(names):
                    candidate = Path(directory, name)
                    if not name.startswith(".") and is_supported(candidate):
                        files[candidate] = None
        elif resolved.is_file():
            if is_supported(resolved):
                files[resolved] = None
            else:
                failed.append((str(resolved), f"unsupported file type {resolved.suffix or '(no extension)'!r}"))
        else:
            failed.append((str(resolved), "no such file or directory"))
    return list(files), failed
