"""SQLAlchemy Core tables: the query-side mirror of the Alembic migrations.

Every table that holds customer data carries `tenant_id`, and every service query filters on it.
The migrations in `store/migrations/versions` are the source of truth for DDL; keep both in step.
"""

from __future__ import annotations

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

metadata = MetaData()


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


tenants = Table(
    "tenants",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    _created_at(),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.id"), nullable=False),
    Column("prefix", Text, nullable=False, unique=True),
    Column("key_hash", LargeBinary, nullable=False),
    Column("name", Text),
    _created_at(),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.id"), nullable=False),
    Column("agent", Text, nullable=False),
    Column("metadata", JSONB, nullable=False),
    Column("next_seq", Integer, nullable=False),
    Column("lock_token", Uuid),
    Column("locked_until", DateTime(timezone=True)),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("session_id", Uuid, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("tool_calls", JSONB(none_as_null=True)),
    Column("tool_call_id", Text),
    Column("citations", JSONB(none_as_null=True)),
    Column("status", Text, nullable=False),
    Column("turn_id", Uuid),
    _created_at(),
)

turns = Table(
    "turns",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("session_id", Uuid, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("idempotency_key", Text),
    Column("request_hash", Text, nullable=False),
    Column("agent", Text, nullable=False),
    Column("config_hash", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("response", JSONB(none_as_null=True)),
    Column("trace_id", Uuid),
    Column("input_tokens", Integer, nullable=False, server_default="0"),
    Column("output_tokens", Integer, nullable=False, server_default="0"),
    Column("cost_usd", Numeric(18, 8), nullable=False, server_default="0"),
    Column("latency_ms", Float),
    _created_at(),
    Column("finished_at", DateTime(timezone=True)),
)

usage_ledger = Table(
    "usage_ledger",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("session_id", Uuid),
    Column("turn_id", Uuid),
    Column("trace_id", Uuid),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_usd", Numeric(18, 8), nullable=False),
    Column("estimated", Boolean, nullable=False),
    _created_at(),
)

knowledge_bases = Table(
    "knowledge_bases",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("embedding_model", Text, nullable=False),
    Column("embedding_dim", Integer, nullable=False),
    _created_at(),
)

documents = Table(
    "documents",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("knowledge_base_id", Uuid, ForeignKey("knowledge_bases.id", ondelete="CASCADE"), nullable=False),
    Column("source", Text, nullable=False),
    Column("title", Text),
    Column("content_hash", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

chunks = Table(
    "chunks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("knowledge_base_id", Uuid, nullable=False),
    Column("document_id", Uuid, ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("heading", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("token_count", Integer, nullable=False),
    Column("embedding", Vector(), nullable=False),
    Column("embedding_dim", Integer, nullable=False),
    Column("tsv", TSVECTOR, nullable=False, server_default=""),  # generated column, never written
)

traces = Table(
    "traces",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("session_id", Uuid, ForeignKey("sessions.id", ondelete="CASCADE")),
    Column("turn_id", Uuid),
    Column("name", Text, nullable=False),
    Column("agent", Text),
    Column("config_hash", Text),
    Column("status", Text, nullable=False),
    Column("error", Text),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("duration_ms", Float),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_usd", Numeric(18, 8), nullable=False),
)

spans = Table(
    "spans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("trace_id", Uuid, ForeignKey("traces.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", Uuid),
    Column("tenant_id", Text, nullable=False),
    Column("session_id", Uuid),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("error", Text),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("model", Text),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_usd", Numeric(18, 8), nullable=False),
    Column("attributes", JSONB, nullable=False),
)
