"""The FastAPI application and its lifespan: database, trace writer and agent runtime."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agentkeel import __version__
from agentkeel.agent import AgentRuntime
from agentkeel.api import routes_openai, routes_ops, routes_sessions
from agentkeel.api.auth import CachedAuthenticator
from agentkeel.api.errors import install_error_handlers
from agentkeel.api.limits import MaxBodySizeMiddleware
from agentkeel.api.metrics import AccessLogMiddleware, Metrics
from agentkeel.config import KeelConfig, Settings, load_config
from agentkeel.errors import ConfigurationError
from agentkeel.gateway import LocalProvider, build_provider, cached_providers
from agentkeel.security import DEFAULT_TENANT, count_active_keys, ensure_tenant
from agentkeel.store import Database, open_database
from agentkeel.tracing import TraceWriter

logger = logging.getLogger("agentkeel.api")


def close_local_providers() -> None:
    for provider in cached_providers():
        if isinstance(provider, LocalProvider):
            provider.close()


def create_app(settings: Settings, config: KeelConfig | None = None, database: Database | None = None) -> FastAPI:
    """Build the app. With `database` given, the caller owns it; otherwise the lifespan opens and closes one."""
    settings.check_startable()
    config = config or load_config(settings.config_file)
    for agent in config.agents:
        # Build each agent's provider now: a missing provider key fails the start, not the first turn.
        build_provider(agent.model, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or await open_database(settings.database_url, settings.data_dir)
        if settings.env == "prod" and await count_active_keys(db.engine) == 0:
            if database is None:
                await db.close()
            raise ConfigurationError(
                "KEEL_ENV=prod requires API keys, and the database has no active key. "
                "Create one with `keel keys create --tenant NAME`, then start again."
            )

        traces = TraceWriter(
            db.engine,
            batch_size=settings.trace_batch_size,
            flush_interval_s=settings.trace_flush_interval_s,
            queue_max=settings.trace_queue_max,
        )
        traces.start()
        runtime = AgentRuntime(engine=db.engine, settings=settings, config=config, traces=traces)
        runtime.turn_listeners.append(app.state.metrics.observe_turn)

        if not settings.api_keys_required:
            await ensure_tenant(db.engine, DEFAULT_TENANT)
            logger.warning(
                "API keys are not required (KEEL_ENV=%s on loopback host %s): every request acts as tenant %r",
                settings.env,
                settings.host,
                DEFAULT_TENANT,
            )

        app.state.database = db
        app.state.runtime = runtime
        app.state.authenticator = CachedAuthenticator(db.engine)
        logger.info("keel ready", extra={"agents": [a.name for a in config.agents], "env": settings.env})
        try:
            yield
        finally:
            # Drain the trace queue before the database goes away, so no finished turn loses spans.
            await traces.stop()
            await runtime.close()
            close_local_providers()
            if database is None:
                await db.close()
            logger.info("keel stopped")

    app = FastAPI(
        title="Keel",
        version=__version__,
        description="Runtime for customer-facing LLM agents: sessions, retrieval, gateway and tracing.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.started_at = time.time()
    app.state.metrics = Metrics()
    install_error_handlers(app)
    app.include_router(routes_sessions.router)
    app.include_router(routes_openai.router)
    app.include_router(routes_ops.router)
    app.add_middleware(MaxBodySizeMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(AccessLogMiddleware, metrics=app.state.metrics, logger=logger)
    return app
