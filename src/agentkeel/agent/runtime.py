"""Everything a turn needs, built once per process: database, config, providers, trace writer."""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from agentkeel.config import AgentConfig, KeelConfig, KnowledgeBaseConfig, Settings
from agentkeel.errors import ConfigurationError, NotFoundError
from agentkeel.gateway import Provider, build_provider
from agentkeel.knowledge import Embedder, build_embedder
from agentkeel.sessions import get_session
from agentkeel.tracing import TraceWriter

logger = logging.getLogger(__name__)

SESSION_AGENT_CACHE_SIZE = 100_000
TurnListener = Callable[[dict[str, Any]], None]


@dataclass
class AgentRuntime:
    engine: AsyncEngine
    settings: Settings
    config: KeelConfig
    traces: TraceWriter
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(follow_redirects=False))
    turn_listeners: list[TurnListener] = field(default_factory=list)
    _session_agents: OrderedDict[tuple[str, uuid.UUID], str] = field(default_factory=OrderedDict, repr=False)

    async def session_agent(self, tenant_id: str, session_id: uuid.UUID) -> str:
        """Return the agent a session talks to; `NotFoundError` when the tenant has no such session.

        A session's agent never changes, so it is cached, which saves one query per turn. A deleted
        session can stay in the cache, but `begin_turn` still finds it gone and raises.
        """
        key = (tenant_id, session_id)
        agent = self._session_agents.get(key)
        if agent is None:
            agent = str((await get_session(self.engine, tenant_id, session_id))["agent"])
            self._session_agents[key] = agent
            if len(self._session_agents) > SESSION_AGENT_CACHE_SIZE:
                self._session_agents.popitem(last=False)
        return agent

    def notify_turn_finished(self, response: dict[str, Any]) -> None:
        """Hand a finished turn's response (any status) to each listener, such as the metrics."""
        for listener in self.turn_listeners:
            try:
                listener(response)
            except Exception:
                logger.exception("turn listener failed", extra={"turn_id": response.get("turn_id")})

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
