"""The official `openai` client against Keel's OpenAI-compatible endpoints."""

from __future__ import annotations

import openai
import pytest

from tests.api.conftest import KeelServer
from tests.fakes.openai_server import FakeOpenAI, Reply


@pytest.fixture
def keel_openai(keel_server: KeelServer, api_key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{keel_server.url}/v1", api_key=api_key, max_retries=0)


async def test_models_lists_agents(keel_openai: openai.AsyncOpenAI) -> None:
    models = await keel_openai.models.list()
    assert sorted(model.id for model in models.data) == ["support", "toolsmith"]


async def test_completion_continues_session(keel_openai: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.script.extend([Reply(content="First answer."), Reply(content="Second answer.")])
    raw = await keel_openai.chat.completions.with_raw_response.create(
        model="support",
        messages=[
            {"role": "system", "content": "ignored: the agent's prompt applies"},
            {"role": "user", "content": "earlier question"},
            {"role": "assistant", "content": "earlier answer"},
            {"role": "user", "content": "new question"},
        ],
    )
    first = raw.parse()
    session_id = raw.headers["x-keel-session-id"]
    assert first.choices[0].message.content == "First answer."
    assert first.usage is not None and first.usage.prompt_tokens > 0
    sent = [(m["role"], m["content"]) for m in fake_openai.requests[-1]["messages"][1:]]
    assert sent == [("user", "earlier question"), ("assistant", "earlier answer"), ("user", "new question")]

    second = await keel_openai.chat.completions.create(
        model="support",
        messages=[{"role": "user", "content": "follow-up"}],
        metadata={"session_id": session_id},
    )
    assert second.choices[0].message.content == "Second answer."
    sent = [m["content"] for m in fake_openai.requests[-1]["messages"][1:]]
    assert sent == ["earlier question", "earlier answer", "new question", "First answer.", "follow-up"]


async def test_streaming_with_usage(keel_openai: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.script.append(Reply(content="streamed words arrive"))
    stream = await keel_openai.chat.completions.create(
        model="support",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == "streamed words arrive"
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens == 3


async def test_unknown_model_is_404(keel_openai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        await keel_openai.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    assert "support" in str(raised.value)


async def test_last_message_must_be_user(keel_openai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError):
        await keel_openai.chat.completions.create(model="support", messages=[{"role": "assistant", "content": "hi"}])


async def test_bad_session_id_in_metadata(keel_openai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        await keel_openai.chat.completions.create(
            model="support", messages=[{"role": "user", "content": "hi"}], metadata={"session_id": "nope"}
        )
    assert "metadata.session_id" in str(raised.value)


async def test_truncated_answer_reports_length(keel_openai: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.script.append(Reply(content="cut here", finish_reason="length"))
    reply = await keel_openai.chat.completions.create(model="support", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].finish_reason == "length"


async def test_max_tokens_lowers_agent_limit(keel_openai: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.script.extend([Reply(content="short"), Reply(content="capped")])
    await keel_openai.chat.completions.create(
        model="support", messages=[{"role": "user", "content": "hi"}], max_tokens=8
    )
    assert fake_openai.requests[-1]["max_tokens"] == 8
    await keel_openai.chat.completions.create(
        model="support", messages=[{"role": "user", "content": "hi"}], max_tokens=100_000
    )
    assert fake_openai.requests[-1]["max_tokens"] == 512, "a client must not raise the agent's limit"
