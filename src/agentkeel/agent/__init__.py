"""The agent loop: prompt rendering, retrieval, model calls, tool calls and the turn lifecycle."""

from agentkeel.agent.runtime import AgentRuntime
from agentkeel.agent.turn import (
    AnswerDelta,
    ToolActivity,
    TurnDone,
    TurnEvent,
    TurnStarted,
    cite,
    run_turn,
    validate_message,
)

__all__ = [
    "AgentRuntime",
    "AnswerDelta",
    "ToolActivity",
    "TurnDone",
    "TurnEvent",
    "TurnStarted",
    "cite",
    "run_turn",
    "validate_message",
]
