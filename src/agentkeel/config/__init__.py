"""Settings from the environment and agent definitions from `keel.yaml`."""

from agentkeel.config.agents import (
    AgentConfig,
    EmbedderConfig,
    HttpToolConfig,
    KeelConfig,
    KnowledgeBaseConfig,
    LimitsConfig,
    ModelRoute,
    RetrievalConfig,
    load_config,
    parse_config,
)
from agentkeel.config.settings import Settings, get_settings

__all__ = [
    "AgentConfig",
    "EmbedderConfig",
    "HttpToolConfig",
    "KeelConfig",
    "KnowledgeBaseConfig",
    "LimitsConfig",
    "ModelRoute",
    "RetrievalConfig",
    "Settings",
    "get_settings",
    "load_config",
    "parse_config",
]
