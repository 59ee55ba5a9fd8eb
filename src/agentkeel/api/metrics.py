"""Prometheus metrics for one app instance (its own registry, so tests can build several apps)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agentkeel.gateway import LocalProvider, cached_providers

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "keel_http_requests_total",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "keel_http_request_seconds",
            "HTTP request duration until the response starts.",
            ["method", "route"],
            registry=self.registry,
        )
        self.trace_queue = Gauge("keel_trace_queue_depth", "Traces waiting to be written.", registry=self.registry)
        self.traces_dropped = Gauge(
            "keel_traces_dropped", "Traces dropped because the queue was full.", registry=self.registry
        )
        self.local_waiting = Gauge(
            "keel_local_model_waiting", "Requests queued for the local model.", registry=self.registry
        )
        self.local_concurrency = Gauge(
            "keel_local_model_concurrency", "Answers the local model generates at once.", registry=self.registry
        )

    def refresh(self, runtime: Any) -> None:
        self.trace_queue.set(runtime.traces.queue_depth)
        self.traces_dropped.set(runtime.traces.dropped)
        for provider in cached_providers():
            if isinstance(provider, LocalProvider):
                self.local_waiting.set(provider.waiting)
                self.local_concurrency.set(provider.concurrency)


class AccessLogMiddleware:
    """One log line and one metric sample per request, with its duration and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, logger: Any) -> None:
        self.app = app
        self.metrics = metrics
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                self.metrics.requests.labels(scope["method"], path, str(status)).inc()
                self.metrics.latency.labels(scope["method"], path).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
