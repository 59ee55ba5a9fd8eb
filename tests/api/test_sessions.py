"""The native session API over real HTTP, against the fake OpenAI provider."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

from tests.api.conftest import KeelServer
from tests.fakes.openai_server import FakeOpenAI, Reply


async def new_session(client: httpx.AsyncClient, agent: str = "support") -> str:
    response = await client.post("/v1/sessions", json={"agent": agent, "metadata": {"customer": "c-1"}})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def wait_for_trace(client: httpx.AsyncClient, trace_id: str) -> dict:
    for _ in range(100):
        response = await client.get(f"/v1/traces/{trace_id}")
        if response.status_code == 200:
            return response.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"trace {trace_id} was not written")


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


async def test_answer_json_cites_chunks(client: httpx.AsyncClient, fake_openai: FakeOpenAI, docs: None) -> None:
    session_id = await new_session(client)
    fake_openai.script.append(Reply(content="Refunds take 14 days [1]."))
    response = await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "How long do refunds take?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"]["content"] == "Refunds take 14 days [1]."
    assert body["message"]["status"] == "complete"
    citations = body["message"]["citations"]
    assert [c["number"] for c in citations] == [1]
    assert citations[0]["source"].endswith("refunds.md")
    assert citations[0]["heading"] == "Refunds"
    assert body["usage"]["input_tokens"] > 0
    assert body["usage"]["cost_usd"] != "0.00000000"
    assert len(body["usage"]["cost_usd"].split(".")[1]) == 8

    sent = fake_openai.requests[-1]
    assert "Refunds are issued within 14 days" in sent["messages"][0]["content"]
    assert sent["messages"][-1] == {"role": "user", "content": "How long do refunds take?"}

    listed = (await client.get(f"/v1/sessions/{session_id}/messages")).json()["data"]
    assert [(m["seq"], m["role"], m["status"]) for m in listed] == [
        (1, "user", "complete"),
        (2, "assistant", "complete"),
    ]


async def test_history_carried_between_turns(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await new_session(client)
    fake_openai.script.extend([Reply(content="Hello Ada."), Reply(content="Your name is Ada.")])
    await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "My name is Ada."})
    await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "What is my name?"})
    roles_and_text = [(m["role"], m["content"]) for m in fake_openai.requests[-1]["messages"][1:]]
    assert roles_and_text == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada."),
        ("user", "What is my name?"),
    ]


async def test_answer_as_sse_stream(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await new_session(client)
    fake_openai.script.append(Reply(content="one two three"))
    events: list[tuple[str, dict]] = []
    async with client.stream(
        "POST", f"/v1/sessions/{session_id}/messages", json={"content": "count", "stream": True}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event or "", json.loads(line[6:])))
    names = [name for name, _ in events]
    assert names[0] == "turn.started"
    assert names[-1] == "turn.completed"
    assert "".join(data["text"] for name, data in events if name == "message.delta") == "one two three"
    assert events[-1][1]["message"]["content"] == "one two three"


async def test_tool_calls_search_and_http(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, tool_server, docs: None
) -> None:
    session_id = await new_session(client, agent="toolsmith")
    fake_openai.script.extend(
        [
            Reply(content="", tool_calls=[{"name": "search_knowledge_base", "arguments": {"query": "warranty"}}]),
            Reply(content="", tool_calls=[{"name": "order_status", "arguments": {"order_id": "A-17"}}]),
            Reply(content="Your kettle has a two year warranty [1] and order A-17 has shipped."),
        ]
    )
    response = await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "Warranty and order A-17?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"]["citations"][0]["source"].endswith("warranty.md")
    assert tool_server.calls[-1] == {"order_id": "A-17"}

    tool_results = [m for m in fake_openai.requests[-1]["messages"] if m["role"] == "tool"]
    assert "two year warranty" in tool_results[0]["content"]
    assert "shipped" in tool_results[1]["content"]

    trace = await wait_for_trace(client, body["trace_id"])
    kinds = [span["kind"] for span in trace["spans"]]
    assert kinds.count("llm") == 3
    assert kinds.count("tool") == 2
    assert kinds.count("retrieval") == 1
    assert trace["config_hash"]
    llm_spans = [span for span in trace["spans"] if span["kind"] == "llm"]
    assert all(span["model"] == "gpt-4o-mini" and span["input_tokens"] > 0 for span in llm_spans)

    stored = (await client.get(f"/v1/sessions/{session_id}/messages")).json()["data"]
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert [m["seq"] for m in stored] == [1, 2, 3, 4, 5, 6]


async def test_invalid_tool_arguments_reach_the_model(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, tool_server
) -> None:
    session_id = await new_session(client, agent="toolsmith")
    before = len(tool_server.calls)
    fake_openai.script.extend(
        [
            Reply(content="", tool_calls=[{"name": "order_status", "arguments": {"order": 5}}]),
            Reply(content="I need an order id."),
        ]
    )
    response = await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "Where is my order?"})
    assert response.status_code == 200
    assert len(tool_server.calls) == before
    tool_message = next(m for m in fake_openai.requests[-1]["messages"] if m["role"] == "tool")
    assert tool_message["content"].startswith("error: arguments do not match the schema")


async def test_concurrent_posts_one_session(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await new_session(client)
    fake_openai.script.extend([Reply(content=f"answer {i}", delay_s=0.3) for i in range(4)])
    url = f"/v1/sessions/{session_id}/messages"
    responses = await asyncio.gather(*[client.post(url, json={"content": f"message {i}"}) for i in range(4)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 1
    assert set(statuses) <= {200, 409}
    busy = [r for r in responses if r.status_code == 409]
    for response in busy:
        assert response.json()["error"]["code"] == "session_busy"
        assert "Retry-After" in response.headers
    stored = (await client.get(url)).json()["data"]
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
    roles = [m["role"] for m in stored]
    assert roles == ["user", "assistant"] * (len(stored) // 2)


async def test_busy_session_answers_409(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await new_session(client)
    fake_openai.script.append(Reply(content="slow", delay_s=1.0))
    url = f"/v1/sessions/{session_id}/messages"
    slow = asyncio.create_task(client.post(url, json={"content": "first"}))
    await asyncio.sleep(0.3)
    busy = await client.post(url, json={"content": "second"})
    assert busy.status_code == 409
    assert (await slow).status_code == 200
    stored = (await client.get(url)).json()["data"]
    assert [m["content"] for m in stored] == ["first", "slow"]


async def test_idempotency_key_replays(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await new_session(client)
    url = f"/v1/sessions/{session_id}/messages"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    fake_openai.script.append(Reply(content="only once"))
    calls_before = len(fake_openai.requests)
    first = await client.post(url, json={"content": "hi"}, headers=key)
    again = await client.post(url, json={"content": "hi"}, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json()["turn_id"] == first.json()["turn_id"]
    assert again.json()["replayed"] is True
    assert len(fake_openai.requests) == calls_before + 1
    assert len((await client.get(url)).json()["data"]) == 2

    reused = await client.post(url, json={"content": "something else"}, headers=key)
    assert reused.status_code == 422
    assert reused.json()["error"]["field"] == "Idempotency-Key"


async def test_disconnect_stores_interrupted(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await new_session(client)
    words = " ".join(f"w{i}" for i in range(200))
    fake_openai.script.append(Reply(content=words, token_delay_s=0.02))
    closed_before = fake_openai.streams_closed_early
    deltas = 0
    async with client.stream(
        "POST", f"/v1/sessions/{session_id}/messages", json={"content": "talk a lot", "stream": True}
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("event: message.delta"):
                deltas += 1
                if deltas == 5:
                    break
    messages = []
    for _ in range(100):
        messages = (await client.get(f"/v1/sessions/{session_id}/messages")).json()["data"]
        if len(messages) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(messages) == 2
    answer = messages[1]
    assert answer["status"] == "interrupted"
    assert answer["content"].startswith("w0 w1 w2 w3")
    assert len(answer["content"].split()) < 200
    for _ in range(100):
        if fake_openai.streams_closed_early > closed_before:
            break
        await asyncio.sleep(0.05)
    assert fake_openai.streams_closed_early > closed_before, "the provider stream kept generating"

    # The session is usable again right away: the lease was released.
    fake_openai.script.append(Reply(content="back"))
    again = await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "still there?"})
    assert again.status_code == 200
    history = [m["content"] for m in fake_openai.requests[-1]["messages"][1:]]
    assert history == ["talk a lot", "still there?"], "an interrupted answer must not enter the history"


async def test_interrupted_turn_records_usage(client: httpx.AsyncClient, fake_openai: FakeOpenAI, database) -> None:
    from sqlalchemy import select

    from agentkeel.store import schema

    session_id = await new_session(client)
    fake_openai.script.append(Reply(content=" ".join(["word"] * 200), token_delay_s=0.02))
    async with client.stream(
        "POST", f"/v1/sessions/{session_id}/messages", json={"content": "go", "stream": True}
    ) as response:
        count = 0
        async for line in response.aiter_lines():
            if line.startswith("event: message.delta"):
                count += 1
                if count == 3:
                    break
    rows = []
    for _ in range(100):
        async with database.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(schema.usage_ledger).where(schema.usage_ledger.c.session_id == uuid.UUID(session_id))
                )
            ).all()
        if rows:
            break
        await asyncio.sleep(0.05)
    assert len(rows) == 1
    assert rows[0].estimated is True
    assert rows[0].output_tokens >= 3
    assert rows[0].input_tokens > 0


async def test_provider_error_is_502_and_stored(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await new_session(client)
    fake_openai.script.append(Reply(status=500))
    response = await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "hello"})
    assert response.status_code == 502
    assert "HTTP 500" in response.json()["error"]["message"]
    stored = (await client.get(f"/v1/sessions/{session_id}/messages")).json()["data"]
    assert [(m["role"], m["status"]) for m in stored] == [("user", "complete"), ("assistant", "failed")]


async def test_delete_session_removes_everything(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await new_session(client)
    fake_openai.script.append(Reply(content="to be deleted"))
    body = (await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "hi"})).json()
    await wait_for_trace(client, body["trace_id"])
    assert (await client.delete(f"/v1/sessions/{session_id}")).status_code == 204
    assert (await client.get(f"/v1/sessions/{session_id}")).status_code == 404
    assert (await client.get(f"/v1/sessions/{session_id}/messages")).status_code == 404
    assert (await client.get(f"/v1/traces/{body['trace_id']}")).status_code == 404
    assert (await client.delete(f"/v1/sessions/{session_id}")).status_code == 404


async def test_tenants_are_isolated(
    client: httpx.AsyncClient, keel_server: KeelServer, database, fake_openai: FakeOpenAI
) -> None:
    from agentkeel.security import create_api_key

    session_id = await new_session(client)
    _, other_key = await create_api_key(database.engine, f"other-{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient(base_url=keel_server.url, headers={"Authorization": f"Bearer {other_key}"}) as other:
        assert (await other.get(f"/v1/sessions/{session_id}")).status_code == 404
        assert (await other.post(f"/v1/sessions/{session_id}/messages", json={"content": "x"})).status_code == 404
        assert (await other.delete(f"/v1/sessions/{session_id}")).status_code == 404
    assert (await client.get(f"/v1/sessions/{session_id}")).status_code == 200


async def test_metrics_count_turns(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    def complete_count(text: str) -> float:
        for line in text.splitlines():
            if line.startswith('keel_turns_total{agent="support",status="complete"}'):
                return float(line.split()[-1])
        return 0.0

    before = complete_count((await client.get("/metrics")).text)
    session_id = await new_session(client)
    fake_openai.script.append(Reply(content="counted"))
    assert (await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "hi"})).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert complete_count(metrics) == before + 1
    assert 'keel_tokens_total{agent="support",direction="output"}' in metrics
    assert "keel_turn_seconds_bucket" in metrics
