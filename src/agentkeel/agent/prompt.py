"""Render the system prompt and fit the conversation history into a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from agentkeel.config import AgentConfig
from agentkeel.config.agents import TEMPLATE_VARIABLE
from agentkeel.knowledge import RetrievedChunk, count_tokens
from agentkeel.sessions import StoredMessage

NO_CONTEXT = "(no matching documents were found)"
TOOL_CONTEXT = (
    "Call the search_knowledge_base tool to look up facts before answering. "
    "Cite sources by their number in square brackets, like [1]."
)


def format_context(chunks: Sequence[RetrievedChunk], *, start: int = 1) -> str:
    """Number the chunks so the model can cite them as [n]."""
    if not chunks:
        return NO_CONTEXT
    blocks = []
    for number, chunk in enumerate(chunks, start=start):
        blocks.append(f"[{number}] {chunk.heading} ({chunk.source})\n{chunk.content.strip()}")
    return "\n\n".join(blocks)


def render_system_prompt(agent: AgentConfig, context: str) -> str:
    values = {"context": context, "agent_name": agent.name, "today": datetime.now(UTC).date().isoformat()}
    rendered = TEMPLATE_VARIABLE.sub(lambda match: values[match.group(1)], agent.system_prompt)
    has_context_slot = any(match.group(1) == "context" for match in TEMPLATE_VARIABLE.finditer(agent.system_prompt))
    if not has_context_slot and context not in (NO_CONTEXT, ""):
        # The prompt has no {{ context }} slot: append the context so retrieval is never lost.
        rendered = f"{rendered.rstrip()}\n\nContext:\n{context}"
    return rendered


def trim_history(history: Sequence[StoredMessage], budget_tokens: int) -> list[dict[str, Any]]:
    """Keep the newest messages whose tokens fit `budget_tokens`, dropping the oldest first.

    The history never starts with an assistant message, so the model does not see an answer without
    its question.
    """
    recent: list[StoredMessage] = []
    used = 0
    for message in reversed(history):
        cost = count_tokens(message.content) + 4
        if used + cost > budget_tokens:
            break
        recent.append(message)
        used += cost
    recent.reverse()
    while recent and recent[0].role == "assistant":
        recent.pop(0)
    return [{"role": message.role, "content": message.content} for message in recent]
