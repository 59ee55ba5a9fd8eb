"""The app factory that `keel serve --workers N` hands to uvicorn, which imports it in each worker."""

from __future__ import annotations

from fastapi import FastAPI

from agentkeel.api.app import create_app
from agentkeel.config import get_settings
from agentkeel.logs import configure_logging


def app_from_environment() -> FastAPI:
    """Build the app from `KEEL_*` variables; each worker opens its own database pool."""
    settings = get_settings()
    configure_logging(settings.resolved_log_format, settings.log_level)
    return create_app(settings)
