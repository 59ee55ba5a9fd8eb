"""Traces and spans of every turn, written in batches off the request path."""

from agentkeel.tracing.queries import get_trace, list_traces
from agentkeel.tracing.records import SpanRecord, Trace, TraceRecord
from agentkeel.tracing.writer import TraceWriter

__all__ = ["SpanRecord", "Trace", "TraceRecord", "TraceWriter", "get_trace", "list_traces"]
