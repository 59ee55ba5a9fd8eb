"""Model access: the provider protocol, providers, pricing and the factory that picks one.

Routing with fallbacks, caching, rate limits and budgets wrap a `Provider` later; the agent loop
only ever sees this protocol.
"""

from agentkeel.gateway.factory import (
    build_provider,
    cached_providers,
    clear_provider_cache,
    resolve_provider_kind,
)
from agentkeel.gateway.pricing import cost_of, format_usd
from agentkeel.gateway.providers.local import LocalProvider
from agentkeel.gateway.providers.openai_compatible import OpenAICompatibleProvider
from agentkeel.gateway.types import (
    ChatRequest,
    ChatResult,
    Message,
    Provider,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
    complete,
)

__all__ = [
    "ChatRequest",
    "ChatResult",
    "LocalProvider",
    "Message",
    "OpenAICompatibleProvider",
    "Provider",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "Usage",
    "build_provider",
    "cached_providers",
    "clear_provider_cache",
    "complete",
    "cost_of",
    "format_usd",
    "resolve_provider_kind",
]
