"""Choose and cache the provider for a model route."""

from __future__ import annotations

import os
import threading

from agentkeel.config import ModelRoute, Settings
from agentkeel.errors import ConfigurationError
from agentkeel.gateway.providers.local import LocalProvider
from agentkeel.gateway.providers.openai_compatible import OpenAICompatibleProvider
from agentkeel.gateway.types import Provider

_lock = threading.Lock()
_cache: dict[tuple[object, ...], Provider] = {}


def resolve_provider_kind(route: ModelRoute, settings: Settings) -> str:
    """`auto` means a provider model when its API key is set, else the local model."""
    if route.provider != "auto":
        return route.provider
    return "openai_compatible" if _api_key(route, settings) else "local"


def _api_key(route: ModelRoute, settings: Settings) -> str | None:
    if route.api_key_env == "KEEL_OPENAI_API_KEY" and settings.openai_api_key is not None:
        return settings.openai_api_key.get_secret_value()
    return os.environ.get(route.api_key_env) or None


def build_provider(route: ModelRoute, settings: Settings) -> Provider:
    """Return the provider for `route`, building it once per distinct configuration."""
    kind = resolve_provider_kind(route, settings)
    if kind == "local":
        key: tuple[object, ...] = ("local", settings.local_model_context, settings.local_model_threads)
    else:
        base_url = str(route.base_url) if route.base_url else settings.openai_base_url
        key = ("openai_compatible", base_url, route.api_key_env, route.timeout_s)
    with _lock:
        provider = _cache.get(key)
        if provider is None:
            provider = _create(kind, route, settings)
            _cache[key] = provider
        return provider


def _create(kind: str, route: ModelRoute, settings: Settings) -> Provider:
    if kind == "local":
        return LocalProvider(context_tokens=settings.local_model_context, threads=settings.local_model_threads)
    api_key = _api_key(route, settings)
    if not api_key:
        raise ConfigurationError(
            f"The model route uses provider openai_compatible but {route.api_key_env} is not set. "
            f"Export {route.api_key_env}, or set provider: local in keel.yaml.",
            field="model.api_key_env",
        )
    base_url = str(route.base_url) if route.base_url else settings.openai_base_url
    return OpenAICompatibleProvider(api_key=api_key, base_url=base_url, timeout_s=route.timeout_s)


def cached_providers() -> list[Provider]:
    with _lock:
        return list(_cache.values())


def clear_provider_cache() -> None:
    with _lock:
        _cache.clear()
