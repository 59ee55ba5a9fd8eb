"""Tools the agent can call: built-in `search_knowledge_base` and HTTP tools from keel.yaml."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema

from agentkeel.config import HttpToolConfig

logger = logging.getLogger(__name__)

SEARCH_TOOL_NAME = "search_knowledge_base"
MAX_TOOL_OUTPUT_CHARS = 8000

SEARCH_TOOL_SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": SEARCH_TOOL_NAME,
        "description": "Search the knowledge base and return the most relevant passages with their sources.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "What to look for, in plain words."}},
            "required": ["query"],
        },
    },
}


def http_tool_schema(tool: HttpToolConfig) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


@dataclass
class ToolOutcome:
    """A tool call's result: the tool message for the model and the attributes for its span."""

    content: str
    ok: bool
    error: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def parse_arguments(raw: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Parse and validate model-produced arguments; raise ValueError with a message for the model."""
    try:
        arguments = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"arguments are not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(arguments, dict):
        raise ValueError("arguments must be a JSON object")
    try:
        jsonschema.validate(arguments, schema)
    except jsonschema.ValidationError as exc:
        location = "/".join(str(part) for part in exc.absolute_path) or "(root)"
        raise ValueError(f"arguments do not match the schema at {location}: {exc.message}") from exc
    return arguments


async def call_http_tool(client: httpx.AsyncClient, tool: HttpToolConfig, raw_arguments: str) -> ToolOutcome:
    """Call the tool's URL with the arguments (JSON body for POST, query string for GET).

    A failure becomes a tool message that describes it to the model, so it never fails the turn.
    """
    try:
        arguments = parse_arguments(raw_arguments, tool.parameters)
    except ValueError as exc:
        return ToolOutcome(content=f"error: {exc}", ok=False, error=str(exc))
    url = str(tool.url)
    try:
        if tool.method == "GET":
            params = {key: value if isinstance(value, str) else json.dumps(value) for key, value in arguments.items()}
            response = await client.get(url, params=params, headers=tool.headers, timeout=tool.timeout_s)
        else:
            response = await client.post(url, json=arguments, headers=tool.headers, timeout=tool.timeout_s)
    except httpx.TimeoutException:
        message = f"tool {tool.name} timed out after {tool.timeout_s:g} s"
        return ToolOutcome(content=f"error: {message}", ok=False, error=message)
    except httpx.HTTPError as exc:
        message = f"tool {tool.name} request failed: {type(exc).__name__}"
        return ToolOutcome(content=f"error: {message}", ok=False, error=message)
    body = response.text[:MAX_TOOL_OUTPUT_CHARS]
    attributes = {"http_status": response.status_code, "url": url}
    if response.is_error:
        message = f"tool {tool.name} returned HTTP {response.status_code}"
        return ToolOutcome(content=f"error: {message}: {body[:500]}", ok=False, error=message, attributes=attributes)
    return ToolOutcome(content=body, ok=True, attributes=attributes)
