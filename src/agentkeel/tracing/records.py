"""Traces and spans built in memory during a turn and handed to the writer when it ends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from agentkeel.gateway import Usage


@dataclass
class SpanRecord:
    """One timed step of a turn: retrieval, a model call, a tool call."""

    trace_id: uuid.UUID
    tenant_id: str
    session_id: uuid.UUID | None
    name: str
    kind: str
    parent_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    status: str = "ok"
    error: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    duration_ms: float = 0.0
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    attributes: dict[str, Any] = field(default_factory=dict)
    _start_monotonic: float = field(default_factory=time.perf_counter, repr=False)

    def record_usage(self, usage: Usage, model: str) -> None:
        self.model = model
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cost_usd += usage.cost_usd
        if usage.estimated:
            self.attributes["usage_estimated"] = True

    def end(self, status: str | None = None, error: str | None = None) -> None:
        if self.ended_at is not None:
            return
        self.duration_ms = (time.perf_counter() - self._start_monotonic) * 1000
        self.ended_at = self.started_at + timedelta(milliseconds=self.duration_ms)
        if status is not None:
            self.status = status
        if error is not None:
            self.error = error[:2000]

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trace_id": self.trace_id,
            "parent_id": self.parent_id,
            "tenant_id": self.tenant_id,
            "session_id": self.session_id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "error": self.error,
            "started_at": self.started_at,
            "ended_at": self.ended_at or self.started_at,
            "duration_ms": self.duration_ms,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "attributes": self.attributes,
        }


class Trace:
    """The trace of one turn. Not thread-safe: one turn runs on one task."""

    def __init__(
        self,
        *,
        tenant_id: str,
        session_id: uuid.UUID | None,
        turn_id: uuid.UUID | None,
        name: str,
        agent: str | None = None,
        config_hash: str | None = None,
    ) -> None:
        self.id = uuid.uuid4()
        self.tenant_id = tenant_id
        self.session_id = session_id
        self.turn_id = turn_id
        self.name = name
        self.agent = agent
        self.config_hash = config_hash
        self.spans: list[SpanRecord] = []
        self.root = SpanRecord(
            trace_id=self.id,
            tenant_id=tenant_id,
            session_id=session_id,
            name=name,
            kind="turn",
            attributes={"agent": agent, "config_hash": config_hash},
        )

    @contextmanager
    def span(self, name: str, kind: str, **attributes: Any) -> Iterator[SpanRecord]:
        """Time a step. An exception marks the span `error` (or `cancelled`) and propagates."""
        span = SpanRecord(
            trace_id=self.id,
            tenant_id=self.tenant_id,
            session_id=self.session_id,
            name=name,
            kind=kind,
            parent_id=self.root.id,
            attributes=dict(attributes),
        )
        self.spans.append(span)
        try:
            yield span
        except BaseException as exc:
            cancelled = type(exc).__name__ in ("CancelledError", "GeneratorExit")
            span.end("cancelled" if cancelled else "error", None if cancelled else f"{type(exc).__name__}: {exc}")
            raise
        finally:
            span.end()

    def finish(self, status: str, error: str | None = None) -> TraceRecord:
        self.root.end(status, error)
        for span in self.spans:
            span.end("cancelled")  # spans still open when the turn ended were cut short
        usage_spans = [span for span in self.spans if span.kind == "llm"]
        self.root.input_tokens = sum(span.input_tokens for span in usage_spans)
        self.root.output_tokens = sum(span.output_tokens for span in usage_spans)
        self.root.cost_usd = sum((span.cost_usd for span in usage_spans), Decimal(0))
        return TraceRecord(trace=self, spans=[self.root, *self.spans])


@dataclass
class TraceRecord:
    """A finished trace ready for the writer."""

    trace: Trace
    spans: list[SpanRecord]

    def trace_row(self) -> dict[str, Any]:
        root = self.spans[0]
        return {
            "id": self.trace.id,
            "tenant_id": self.trace.tenant_id,
            "session_id": self.trace.session_id,
            "turn_id": self.trace.turn_id,
            "name": self.trace.name,
            "agent": self.trace.agent,
            "config_hash": self.trace.config_hash,
            "status": root.status,
            "error": root.error,
            "started_at": root.started_at,
            "ended_at": root.ended_at,
            "duration_ms": root.duration_ms,
            "input_tokens": root.input_tokens,
            "output_tokens": root.output_tokens,
            "cost_usd": root.cost_usd,
        }
