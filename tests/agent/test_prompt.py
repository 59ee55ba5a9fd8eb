"""Prompt rendering, history trimming and citations."""

from __future__ import annotations

import uuid

from agentkeel.agent import cite
from agentkeel.agent.prompt import format_context, render_system_prompt, trim_history
from agentkeel.config import parse_config
from agentkeel.knowledge import RetrievedChunk
from agentkeel.sessions import StoredMessage


def chunk(source: str, heading: str = "H") -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=uuid.uuid4(),
        document_id=uuid.uuid4(),
        source=source,
        heading=heading,
        content=f"text of {source}",
        score=0.1,
        vector_rank=1,
        text_rank=1,
    )


def test_context_slot_and_fallback() -> None:
    with_slot = parse_config({"agents": [{"name": "a", "system_prompt": "X {{ context }} Y"}]}, source="t").agents[0]
    without = parse_config({"agents": [{"name": "a", "system_prompt": "Be kind."}]}, source="t").agents[0]
    context = format_context([chunk("a.md", "Intro")])
    assert render_system_prompt(with_slot, context) == f"X {context} Y"
    rendered = render_system_prompt(without, context)
    assert rendered.startswith("Be kind.")
    assert "[1] Intro (a.md)" in rendered


def test_trim_history_keeps_newest_and_starts_with_user() -> None:
    history = [
        StoredMessage(role="user" if i % 2 == 0 else "assistant", content=f"message {i} " + "word " * 20, seq=i + 1)
        for i in range(10)
    ]
    trimmed = trim_history(history, budget_tokens=80)
    assert trimmed
    assert trimmed[0]["role"] == "user"
    assert trimmed[-1]["content"].startswith("message 9")
    assert len(trimmed) < 10
    assert trim_history(history, budget_tokens=0) == []


def test_cite_marked_numbers_only() -> None:
    offered = [chunk("a.md"), chunk("b.md"), chunk("c.md")]
    assert [c["source"] for c in cite("See [2] and [3].", offered)] == ["b.md", "c.md"]
    assert [c["number"] for c in cite("Nothing marked.", offered)] == [1, 2, 3]
    assert [c["number"] for c in cite("Out of range [9].", offered)] == [1, 2, 3]
    assert cite("No context at all.", []) == []
