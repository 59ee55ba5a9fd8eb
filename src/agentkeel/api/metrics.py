"""Prometheus metrics for one app instance (its own registry, so tests can build several apps)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentkeel.gateway import LocalProvider, cached_providers


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

        self.turns = Counter(
            "keel_turns_total", "Finished turns by agent and status.", ["agent", "status"], registry=self.registry
        )
        self.turn_seconds = Histogram(
            "keel_turn_seconds",
            "Turn duration from the request to the stored answer.",
            ["agent"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.tokens = Counter(
            "keel_tokens_total", "Model tokens by agent and direction.", ["agent", "direction"], registry=self.registry
        )

    def observe_turn(self, response: dict[str, Any]) -> None:
        agent = str(response.get("agent"))
        self.turns.labels(agent, str(response.get("status"))).inc()
        self.turn_seconds.labels(agent).observe(float(response.get("latency_ms") or 0) / 1000)
        usage = response.get("usage") or {}
        self.tokens.labels(agent, "input").inc(int(usage.get("input_tokens") or 0))
        self.tokens.labels(agent, "output").inc(int(usage.get("output_tokens") or 0))

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
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
