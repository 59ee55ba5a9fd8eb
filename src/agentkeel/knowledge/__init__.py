"""Knowledge bases: loading, chunking and embedding documents, and hybrid retrieval over them.

Other packages import only the names below. Vectors live in pgvector and text search uses Postgres
full-text search, both in the `chunks` table and always filtered by tenant and knowledge base.
"""

from agentkeel.knowledge.bases import ensure_knowledge_base
from agentkeel.knowledge.chunking import Chunk, Section, chunk_sections, count_tokens
from agentkeel.knowledge.embedders import Embedder, LocalEmbedder, OpenAIEmbedder, build_embedder
from agentkeel.knowledge.errors import DocumentLoadError, EmbedderMismatchError
from agentkeel.knowledge.ingest import (
    delete_document,
    delete_missing,
    ingest_paths,
    ingest_python_reference,
    ingest_texts,
)
from agentkeel.knowledge.loaders import SUPPORTED_SUFFIXES, SourceDocument
from agentkeel.knowledge.pipeline import IngestProgress, IngestReport
from agentkeel.knowledge.retrieval import RetrievedChunk, retrieve

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "DocumentLoadError",
    "Embedder",
    "EmbedderMismatchError",
    "IngestProgress",
    "IngestReport",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "RetrievedChunk",
    "Section",
    "SourceDocument",
    "build_embedder",
    "chunk_sections",
    "count_tokens",
    "delete_document",
    "delete_missing",
    "ensure_knowledge_base",
    "ingest_paths",
    "ingest_python_reference",
    "ingest_texts",
    "retrieve",
]
