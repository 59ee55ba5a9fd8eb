"""Request and response bodies of the native API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# A hard ceiling for any message body; each agent's limits.max_input_chars is usually far lower.
MAX_CONTENT_CHARS = 200_000


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str = Field(default="assistant", min_length=1, max_length=64, description="A Keel agent name.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form JSON, at most 16 KiB.")


class SessionOut(BaseModel):
    id: uuid.UUID
    agent: str
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    message_count: int


class PostMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(max_length=MAX_CONTENT_CHARS, description="The user's message.")
    stream: bool = Field(default=False, description="Stream the reply as Server-Sent Events.")


class Citation(BaseModel):
    number: int
    source: str
    heading: str
    chunk_id: str
    document_id: str


class MessageOut(BaseModel):
    id: uuid.UUID
    seq: int
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    status: Literal["complete", "interrupted", "failed"]
    citations: list[Citation] = []
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    turn_id: uuid.UUID | None = None
    created_at: datetime | None = None


class UsageOut(BaseModel):
    input_tokens: int
    output_tokens: int
    cost_usd: str
    estimated: bool


class AnswerMessage(BaseModel):
    id: uuid.UUID
    seq: int
    role: Literal["assistant"]
    content: str
    status: Literal["complete", "interrupted", "failed"]
    citations: list[Citation] = []


class TurnOut(BaseModel):
    turn_id: uuid.UUID
    session_id: uuid.UUID
    trace_id: uuid.UUID
    agent: str
    model: str
    status: str
    finish_reason: str | None = None
    message: AnswerMessage
    usage: UsageOut
    latency_ms: float
    replayed: bool = False


class MessagesOut(BaseModel):
    data: list[MessageOut]
    next_after_seq: int | None


class ErrorOut(BaseModel):
    error: dict[str, Any]
