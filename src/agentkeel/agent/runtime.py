"""Everything a turn needs, built once per process: database, config, providers, trace writer."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from agentkeel.config import AgentConfig, KeelConfig, KnowledgeBaseConfig, Settings
from agentkeel.errors import ConfigurationError, NotFoundError
from agentkeel.gateway import Provider, build_provider
from agentkeel.knowledge import Embedder, build_embedder
from agentkeel.tracing import TraceWriter


@dataclass
class AgentRuntime:
    engine: AsyncEngine
    settings: Settings
    config: KeelConfig
    traces: TraceWriter
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(follow_redirects=False))

    def agent(self, name: str) -> AgentConfig:
        agent = self.config.agent(name)
        if agent is None:
            known = ", ".join(a.name for a in self.config.agents)
            raise NotFoundError(f"Agent {name!r} is not defined. Defined agents: {known}.", field="agent")
        return agent

    def provider_for(self, agent: AgentConfig) -> Provider:
        return build_provider(agent.model, self.settings)

    def knowledge_base_for(self, agent: AgentConfig) -> KnowledgeBaseConfig | None:
        if agent.knowledge_base is None:
            return None
        kb = self.config.knowledge_base(agent.knowledge_base)
        if kb is None:  # KeelConfig validation prevents this; kept for configs built in code
            raise ConfigurationError(f"Agent {agent.name!r} names unknown knowledge base {agent.knowledge_base!r}.")
        return kb

    def embedder_for(self, kb: KnowledgeBaseConfig) -> Embedder:
        return build_embedder(kb.embedder)

    async def close(self) -> None:
        await self.http.aclose()
