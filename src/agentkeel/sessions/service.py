"""Sessions and their messages, with per-session sequence numbers, a turn lease and idempotency.

Concurrency contract: a turn holds a lease on its session (`lock_token`, `locked_until`) from
`begin_turn` to `finish_turn`. A second turn on a busy session gets `SessionBusyError` (409)
instead of waiting, so two concurrent posts never interleave or reorder history. Sequence numbers
come from `sessions.next_seq`, updated under a row lock, and `UNIQUE (session_id, seq)` backs them.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentkeel.errors import ConflictError, InvalidInputError, NotFoundError
from agentkeel.store import schema

logger = logging.getLogger(__name__)

HISTORY_MESSAGE_LIMIT = 200
MAX_METADATA_BYTES = 16_384
# Most turns end within seconds; the lease only bounds a turn whose process died.
RETRY_AFTER_BUSY_S = 2


class SessionBusyError(ConflictError):
    code = "session_busy"


@dataclass(frozen=True)
class StoredMessage:
    role: str
    content: str
    seq: int
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


@dataclass
class TurnHandle:
    """A started turn: the lease on its session and the history it answers from."""

    turn_id: uuid.UUID
    tenant_id: str
    session_id: uuid.UUID
    lock_token: uuid.UUID
    user_seq: int
    history: list[StoredMessage]


@dataclass
class TurnReplay:
    """The stored result of an earlier request with the same Idempotency-Key."""

    response: dict[str, Any]


@dataclass
class TurnOutcome:
    status: str  # complete | interrupted | failed
    content: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    tool_messages: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: float = 0.0
    trace_id: uuid.UUID | None = None
    usage_rows: list[dict[str, Any]] = field(default_factory=list)
    response: dict[str, Any] = field(default_factory=dict)


def request_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _session_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "agent": row.agent,
        "metadata": row.metadata,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "message_count": row.next_seq - 1,
    }


async def create_session(
    engine: AsyncEngine, tenant_id: str, agent: str, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    session_id = uuid.uuid4()
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                insert(schema.sessions)
                .values(id=session_id, tenant_id=tenant_id, agent=agent, metadata=metadata or {}, next_seq=1)
                .returning(schema.sessions)
            )
        ).first()
    return _session_dict(row)


async def get_session(engine: AsyncEngine, tenant_id: str, session_id: uuid.UUID) -> dict[str, Any]:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(schema.sessions).where(
                    schema.sessions.c.tenant_id == tenant_id, schema.sessions.c.id == session_id
                )
            )
        ).first()
    if row is None:
        raise NotFoundError(f"Session {session_id} not found.", field="session_id")
    return _session_dict(row)


async def list_messages(
    engine: AsyncEngine, tenant_id: str, session_id: uuid.UUID, *, after_seq: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    await get_session(engine, tenant_id, session_id)
    async with engine.connect() as connection:
        rows = (
            (
                await connection.execute(
                    select(schema.messages)
                    .where(
                        schema.messages.c.tenant_id == tenant_id,
                        schema.messages.c.session_id == session_id,
                        schema.messages.c.seq > after_seq,
                    )
                    .order_by(schema.messages.c.seq)
                    .limit(limit)
                )
            )
            .mappings()
            .all()
        )
    return [
        {
            "id": row["id"],
            "seq": row["seq"],
            "role": row["role"],
            "content": row["content"],
            "status": row["status"],
            "tool_calls": row["tool_calls"],
            "tool_call_id": row["tool_call_id"],
            "citations": row["citations"] or [],
            "turn_id": row["turn_id"],
            "created_at": row["created_at"],
        }
        for row in rows
    ]


async def delete_session(engine: AsyncEngine, tenant_id: str, session_id: uuid.UUID) -> None:
    """Delete the session; its messages, turns, traces and spans go with it by foreign-key cascade."""
    async with engine.begin() as connection:
        result = await connection.execute(
            delete(schema.sessions).where(schema.sessions.c.tenant_id == tenant_id, schema.sessions.c.id == session_id)
        )
    if result.rowcount == 0:
        raise NotFoundError(f"Session {session_id} not found.", field="session_id")


async def begin_turn(
    engine: AsyncEngine,
    *,
    tenant_id: str,
    session_id: uuid.UUID,
    content: str,
    agent: str,
    config_hash: str,
    idempotency_key: str | None,
    lease_s: float,
    prior_messages: Sequence[dict[str, str]] = (),
) -> TurnHandle | TurnReplay:
    """Take the session's lease, store the user message and return the history to answer from.

    `prior_messages` (role and content) are stored before the user message; the OpenAI-compatible
    endpoint uses them to seed a new session. Raises `NotFoundError`, `SessionBusyError`, or
    `ConflictError` for an Idempotency-Key still in flight or reused with a different message.
    """
    digest = request_hash(content)
    async with engine.begin() as connection:
        session = (
            await connection.execute(
                select(schema.sessions)
                .where(schema.sessions.c.tenant_id == tenant_id, schema.sessions.c.id == session_id)
                .with_for_update()
            )
        ).first()
        if session is None:
            raise NotFoundError(f"Session {session_id} not found.", field="session_id")

        if idempotency_key is not None:
            replay = await _find_idempotent(connection, tenant_id, session_id, idempotency_key, digest)
            if replay is not None:
                return replay

        now = datetime.now(UTC)
        if session.locked_until is not None and session.locked_until > now:
            raise SessionBusyError(
                f"Session {session_id} is answering another message. Retry when that answer is complete; "
                "an Idempotency-Key makes retries safe.",
                field="session_id",
                retry_after_s=RETRY_AFTER_BUSY_S,
                lease_expires_in_s=max(1, int((session.locked_until - now).total_seconds())),
            )
        if session.locked_until is not None:
            # The previous holder's lease expired (crashed process or runaway turn): close its turn.
            await connection.execute(
                update(schema.turns)
                .where(schema.turns.c.session_id == session_id, schema.turns.c.status == "running")
                .values(status="failed", finished_at=now)
            )

        history = await _load_history(connection, tenant_id, session_id)
        seq = session.next_seq
        turn_id = uuid.uuid4()
        rows = []
        for prior in prior_messages:
            rows.append(_message_row(tenant_id, session_id, seq, prior["role"], prior["content"], turn_id))
            history.append(StoredMessage(role=prior["role"], content=prior["content"], seq=seq))
            seq += 1
        user_seq = seq
        rows.append(_message_row(tenant_id, session_id, user_seq, "user", content, turn_id))
        lock_token = uuid.uuid4()
        await connection.execute(
            update(schema.sessions)
            .where(schema.sessions.c.id == session_id)
            .values(
                next_seq=user_seq + 1,
                lock_token=lock_token,
                locked_until=now + timedelta(seconds=lease_s),
                updated_at=now,
            )
        )
        await connection.execute(insert(schema.messages), rows)
        await connection.execute(
            insert(schema.turns).values(
                id=turn_id,
                tenant_id=tenant_id,
                session_id=session_id,
                idempotency_key=idempotency_key,
                request_hash=digest,
                agent=agent,
                config_hash=config_hash,
                status="running",
            )
        )
    return TurnHandle(
        turn_id=turn_id,
        tenant_id=tenant_id,
        session_id=session_id,
        lock_token=lock_token,
        user_seq=user_seq,
        history=history,
    )


async def _find_idempotent(
    connection: AsyncConnection, tenant_id: str, session_id: uuid.UUID, key: str, digest: str
) -> TurnReplay | None:
    turn = (
        await connection.execute(
            select(schema.turns.c.status, schema.turns.c.request_hash, schema.turns.c.response).where(
                schema.turns.c.tenant_id == tenant_id,
                schema.turns.c.session_id == session_id,
                schema.turns.c.idempotency_key == key,
            )
        )
    ).first()
    if turn is None:
        return None
    if turn.request_hash != digest:
        raise InvalidInputError(
            "This Idempotency-Key was already used with a different message in this session. "
            "Use a new key for a new message.",
            field="Idempotency-Key",
        )
    if turn.status == "running" or turn.response is None:
        raise ConflictError(
            "A request with this Idempotency-Key is still being answered. Retry in a moment to get its result.",
            field="Idempotency-Key",
        )
    return TurnReplay(response=turn.response)


async def _load_history(connection: AsyncConnection, tenant_id: str, session_id: uuid.UUID) -> list[StoredMessage]:
    """The last messages a model should see: user messages and complete assistant answers."""
    rows = (
        await connection.execute(
            select(schema.messages.c.role, schema.messages.c.content, schema.messages.c.seq)
            .where(
                schema.messages.c.tenant_id == tenant_id,
                schema.messages.c.session_id == session_id,
                schema.messages.c.status == "complete",
                schema.messages.c.role.in_(("user", "assistant")),
                schema.messages.c.tool_calls.is_(None),
            )
            .order_by(schema.messages.c.seq.desc())
            .limit(HISTORY_MESSAGE_LIMIT)
        )
    ).all()
    return [StoredMessage(role=row.role, content=row.content, seq=row.seq) for row in reversed(rows)]


def _message_row(
    tenant_id: str, session_id: uuid.UUID, seq: int, role: str, content: str, turn_id: uuid.UUID, **extra: Any
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "session_id": session_id,
        "seq": seq,
        "role": role,
        "content": content,
        "tool_calls": extra.get("tool_calls"),
        "tool_call_id": extra.get("tool_call_id"),
        "citations": extra.get("citations"),
        "status": extra.get("status", "complete"),
        "turn_id": turn_id,
    }


async def finish_turn(engine: AsyncEngine, turn: TurnHandle, outcome: TurnOutcome) -> dict[str, Any] | None:
    """Store the answer (and tool messages) after the user message, close the turn, release the lease.

    Returns the stored assistant message, or None when the session was deleted during the turn.
    All writes happen in one transaction.
    """
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        session = (
            await connection.execute(
                select(schema.sessions.c.next_seq, schema.sessions.c.lock_token)
                .where(schema.sessions.c.tenant_id == turn.tenant_id, schema.sessions.c.id == turn.session_id)
                .with_for_update()
            )
        ).first()
        if session is None:
            logger.info("session %s was deleted during turn %s; nothing stored", turn.session_id, turn.turn_id)
            return None
        if session.lock_token != turn.lock_token:
            logger.warning("turn %s finished after its lease on session %s expired", turn.turn_id, turn.session_id)

        seq = session.next_seq
        rows = []
        for message in outcome.tool_messages:
            rows.append(
                _message_row(
                    turn.tenant_id,
                    turn.session_id,
                    seq,
                    message["role"],
                    message.get("content") or "",
                    turn.turn_id,
                    tool_calls=message.get("tool_calls"),
                    tool_call_id=message.get("tool_call_id"),
                )
            )
            seq += 1
        answer = _message_row(
            turn.tenant_id,
            turn.session_id,
            seq,
            "assistant",
            outcome.content,
            turn.turn_id,
            citations=outcome.citations,
            status=outcome.status,
        )
        rows.append(answer)
        await connection.execute(insert(schema.messages), rows)

        released: dict[str, Any] = {"next_seq": seq + 1, "updated_at": now}
        if session.lock_token == turn.lock_token:
            released.update(lock_token=None, locked_until=None)
        await connection.execute(
            update(schema.sessions).where(schema.sessions.c.id == turn.session_id).values(**released)
        )

        message = {
            "id": answer["id"],
            "seq": seq,
            "role": "assistant",
            "content": outcome.content,
            "status": outcome.status,
            "citations": outcome.citations,
        }
        response = {**outcome.response, "message": message}
        await connection.execute(
            update(schema.turns)
            .where(schema.turns.c.id == turn.turn_id)
            .values(
                status=outcome.status,
                response=_jsonable(response),
                trace_id=outcome.trace_id,
                input_tokens=outcome.input_tokens,
                output_tokens=outcome.output_tokens,
                cost_usd=outcome.cost_usd,
                latency_ms=outcome.latency_ms,
                finished_at=now,
            )
        )
        if outcome.usage_rows:
            await connection.execute(insert(schema.usage_ledger), outcome.usage_rows)
    return message


async def count_messages(engine: AsyncEngine, tenant_id: str, session_id: uuid.UUID) -> int:
    async with engine.connect() as connection:
        value = await connection.scalar(
            select(func.count()).where(
                schema.messages.c.tenant_id == tenant_id, schema.messages.c.session_id == session_id
            )
        )
    return int(value or 0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, uuid.UUID | datetime):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    return value
