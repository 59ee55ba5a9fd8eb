"""Create the initial schema: tenants, keys, sessions, messages, turns, knowledge, traces.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = """
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE tenants (
    id text PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (id),
    prefix text NOT NULL UNIQUE,
    key_hash bytea NOT NULL,
    name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);

CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (id),
    agent text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    next_seq integer NOT NULL DEFAULT 1,
    lock_token uuid,
    locked_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_tenant_created ON sessions (tenant_id, created_at DESC);

CREATE TABLE messages (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq integer NOT NULL,
    role text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content text NOT NULL,
    tool_calls jsonb,
    tool_call_id text,
    citations jsonb,
    status text NOT NULL CHECK (status IN ('complete', 'interrupted', 'failed')),
    turn_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, seq)
);

CREATE TABLE turns (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    idempotency_key text,
    request_hash text NOT NULL,
    agent text NOT NULL,
    config_hash text NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
    response jsonb,
    trace_id uuid,
    input_tokens integer NOT NULL DEFAULT 0,
    output_tokens integer NOT NULL DEFAULT 0,
    cost_usd numeric(18, 8) NOT NULL DEFAULT 0,
    latency_ms double precision,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    UNIQUE (tenant_id, session_id, idempotency_key)
);
CREATE INDEX turns_session ON turns (session_id, created_at);

CREATE TABLE usage_ledger (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    session_id uuid,
    turn_id uuid,
    trace_id uuid,
    provider text NOT NULL,
    model text NOT NULL,
    input_tokens integer NOT NULL,
    output_tokens integer NOT NULL,
    cost_usd numeric(18, 8) NOT NULL,
    estimated boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_ledger_tenant_created ON usage_ledger (tenant_id, created_at);

CREATE TABLE knowledge_bases (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (id),
    name text NOT NULL,
    embedding_model text NOT NULL,
    embedding_dim integer NOT NULL CHECK (embedding_dim > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE documents (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    knowledge_base_id uuid NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    source text NOT NULL,
    title text,
    content_hash text NOT NULL,
    size_bytes integer NOT NULL,
    chunk_count integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (knowledge_base_id, source)
);

-- The embedding column has no fixed dimension so one table serves knowledge bases with different
-- embedders. HNSW needs a fixed dimension, so each dimension gets a partial expression index
-- (created on demand by the knowledge package); queries cast to the same vector(N).
CREATE TABLE chunks (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    knowledge_base_id uuid NOT NULL,
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    heading text NOT NULL,
    content text NOT NULL,
    content_hash text NOT NULL,
    token_count integer NOT NULL,
    embedding vector NOT NULL,
    embedding_dim integer NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', heading), 'A') || setweight(to_tsvector('english', content), 'B')
    ) STORED
);
CREATE INDEX chunks_scope ON chunks (tenant_id, knowledge_base_id);
CREATE INDEX chunks_document ON chunks (document_id);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
CREATE INDEX chunks_embedding_hnsw_384 ON chunks
    USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE embedding_dim = 384;

CREATE TABLE traces (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    session_id uuid REFERENCES sessions (id) ON DELETE CASCADE,
    turn_id uuid,
    name text NOT NULL,
    agent text,
    config_hash text,
    status text NOT NULL,
    error text,
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    duration_ms double precision,
    input_tokens integer NOT NULL DEFAULT 0,
    output_tokens integer NOT NULL DEFAULT 0,
    cost_usd numeric(18, 8) NOT NULL DEFAULT 0
);
CREATE INDEX traces_tenant_started ON traces (tenant_id, started_at DESC);
CREATE INDEX traces_session ON traces (session_id);

-- NOTE: spans is one unpartitioned table and nothing expires it yet; day partitions with per-tenant
-- retention are still to be built.
CREATE TABLE spans (
    id uuid PRIMARY KEY,
    trace_id uuid NOT NULL REFERENCES traces (id) ON DELETE CASCADE,
    parent_id uuid,
    tenant_id text NOT NULL,
    session_id uuid,
    name text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    error text,
    started_at timestamptz NOT NULL,
    ended_at timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    model text,
    input_tokens integer NOT NULL DEFAULT 0,
    output_tokens integer NOT NULL DEFAULT 0,
    cost_usd numeric(18, 8) NOT NULL DEFAULT 0,
    attributes jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX spans_trace ON spans (trace_id, started_at);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS spans, traces, chunks, documents, knowledge_bases, usage_ledger, turns, messages,
    sessions, api_keys, tenants;
"""


def _statements(script: str) -> list[str]:
    """Split on statement ends, because asyncpg runs one statement per prepared command."""
    return [statement.strip() for statement in script.split(";\n") if statement.strip()]


def upgrade() -> None:
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
