"""Agent and knowledge-base definitions loaded from `keel.yaml`.

Validation happens once at start: an invalid file raises `ConfigurationError` that names the field's
path (for example `agents[0].limits.max_steps`), the bad value and what is allowed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator, model_validator

from agentkeel.errors import ConfigurationError

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
TEMPLATE_VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
PROMPT_VARIABLES = frozenset({"context", "agent_name", "today"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRoute(_Strict):
    """The model that serves an agent. `auto` picks `openai_compatible` when an API key is set, else `local`."""

    provider: Literal["auto", "local", "openai_compatible"] = "auto"
    name: str = "gpt-4o-mini"
    base_url: HttpUrl | None = None
    api_key_env: str = "KEEL_OPENAI_API_KEY"
    temperature: float = Field(default=0.2, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=1, le=32_768)
    timeout_s: float = Field(default=60, gt=0, le=600)


class EmbedderConfig(_Strict):
    provider: Literal["local", "openai_compatible"] = "local"
    model: str = "all-MiniLM-L6-v2"
    dimension: int = Field(default=384, ge=1, le=16_000)
    base_url: HttpUrl | None = None
    api_key_env: str = "KEEL_OPENAI_API_KEY"
    batch_size: int = Field(default=64, ge=1, le=2048)


class KnowledgeBaseConfig(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    embedder: EmbedderConfig = EmbedderConfig()
    chunk_tokens: int = Field(default=200, ge=16, le=8192)
    chunk_overlap: int = Field(default=30, ge=0, le=4096)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> KnowledgeBaseConfig:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_tokens ({self.chunk_tokens})"
            )
        return self


class RetrievalConfig(_Strict):
    """When retrieval runs. `pre` retrieves before the model call, and `tool` offers the model the
    `search_knowledge_base` tool. `auto` picks `tool` when the model supports tool calls, else `pre`."""

    mode: Literal["auto", "pre", "tool", "off"] = "auto"
    top_k: int = Field(default=4, ge=1, le=50)


class HttpToolConfig(_Strict):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = Field(min_length=1, max_length=1024)
    url: HttpUrl
    method: Literal["GET", "POST"] = "POST"
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    timeout_s: float = Field(default=10, gt=0, le=120)
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError('parameters must be a JSON Schema with "type": "object"')
        return value


class LimitsConfig(_Strict):
    max_steps: int = Field(default=4, ge=1, le=32)
    max_input_chars: int = Field(default=8000, ge=1, le=1_000_000)
    history_tokens: int = Field(default=1500, ge=0, le=1_000_000)
    turn_timeout_s: float = Field(default=120, gt=0, le=3600)


class AgentConfig(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    system_prompt: str = Field(min_length=1)
    model: ModelRoute = ModelRoute()
    knowledge_base: str | None = "default"
    retrieval: RetrievalConfig = RetrievalConfig()
    tools: tuple[HttpToolConfig, ...] = ()
    limits: LimitsConfig = LimitsConfig()

    @field_validator("system_prompt")
    @classmethod
    def _known_variables(cls, value: str) -> str:
        unknown = {m.group(1) for m in TEMPLATE_VARIABLE.finditer(value)} - PROMPT_VARIABLES
        if unknown:
            raise ValueError(f"unknown template variable(s) {sorted(unknown)}; allowed: {sorted(PROMPT_VARIABLES)}")
        return value

    def config_hash(self) -> str:
        """Return a stable short hash of this definition, recorded on traces to tell configurations apart."""
        return self._config_hash

    @functools.cached_property
    def _config_hash(self) -> str:
        # Computed once: the model is frozen, and every turn records the hash twice.
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class KeelConfig(_Strict):
    agents: tuple[AgentConfig, ...] = Field(min_length=1)
    knowledge_bases: tuple[KnowledgeBaseConfig, ...] = (KnowledgeBaseConfig(name="default"),)

    @model_validator(mode="after")
    def _references_resolve(self) -> KeelConfig:
        agent_names = [a.name for a in self.agents]
        if len(set(agent_names)) != len(agent_names):
            raise ValueError(f"agent names must be unique, got {agent_names}")
        kb_names = {kb.name for kb in self.knowledge_bases}
        for agent in self.agents:
            if agent.knowledge_base is not None and agent.knowledge_base not in kb_names:
                raise ValueError(
                    f"agent {agent.name!r} uses knowledge_base {agent.knowledge_base!r}, "
                    f"which is not declared; declared: {sorted(kb_names)}"
                )
        return self

    def agent(self, name: str) -> AgentConfig | None:
        return next((a for a in self.agents if a.name == name), None)

    def knowledge_base(self, name: str) -> KnowledgeBaseConfig | None:
        return next((kb for kb in self.knowledge_bases if kb.name == name), None)


def _format_location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif path:
            path += f".{part}"
        else:
            path = str(part)
    return path or "(root)"


def parse_config(data: Any, *, source: str) -> KeelConfig:
    """Validate a parsed YAML document; raise `ConfigurationError` naming every invalid field."""
    try:
        return KeelConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        nested = {err["loc"][0] for err in errors if len(err["loc"]) > 1}
        # An invalid agent also makes pydantic report its list as too short; that line only misleads.
        errors = [err for err in errors if not (err["type"] == "too_short" and err["loc"][0] in nested)]
        problems = [f"{_format_location(err['loc'])}: {err['msg']} (got {err.get('input')!r})" for err in errors]
        raise ConfigurationError(f"Invalid agent configuration in {source}: " + "; ".join(problems)) from exc


def default_config_text() -> str:
    return resources.files("agentkeel.config").joinpath("default_keel.yaml").read_text(encoding="utf-8")


def load_config(path: Path | None) -> KeelConfig:
    """Load `path`, or the packaged default when `path` is None or does not exist."""
    if path is not None and path.exists():
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        text, source = default_config_text(), "the built-in default configuration"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{source} is not valid YAML: {exc}") from exc
    return parse_config(data, source=source)
