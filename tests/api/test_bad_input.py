"""Bad input gets a 4xx naming the field and the limit, and loses nothing already stored."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAI, Reply


async def session_with_one_turn(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> str:
    session_id = (await client.post("/v1/sessions", json={"agent": "support"})).json()["id"]
    fake_openai.script.append(Reply(content="stored answer"))
    assert (await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "hi"})).status_code == 200
    return str(session_id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "   \n\t "}, "content"),
        ({"content": "x" * 2001}, "content"),
        ({"content": 42}, "content"),
        ({"content": ["a"]}, "content"),
        ({}, "content"),
        ({"content": "ok", "stream": "sometimes"}, "stream"),
        ({"content": "ok", "unknown": 1}, "unknown"),
    ],
)
async def test_message_body_rejected(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, body: dict, field: str
) -> None:
    session_id = await session_with_one_turn(client, fake_openai)
    response = await client.post(f"/v1/sessions/{session_id}/messages", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"]
    stored = (await client.get(f"/v1/sessions/{session_id}/messages")).json()["data"]
    assert [m["content"] for m in stored] == ["hi", "stored answer"]


async def test_oversized_message_names_limit(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await session_with_one_turn(client, fake_openai)
    response = await client.post(f"/v1/sessions/{session_id}/messages", json={"content": "y" * 2500})
    error = response.json()["error"]
    assert error["details"]["limit"] == 2000
    assert "2000" in error["message"]
    assert "max_input_chars" in error["message"]


@pytest.mark.parametrize(
    "raw",
    [b'{"content": "unterminated', b"not json at all", b'{"content": "\xff\xfe bad utf-8"}', b"", b"[1, 2]"],
)
async def test_malformed_body_rejected(client: httpx.AsyncClient, fake_openai: FakeOpenAI, raw: bytes) -> None:
    session_id = await session_with_one_turn(client, fake_openai)
    response = await client.post(
        f"/v1/sessions/{session_id}/messages", content=raw, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["message"]
    assert len((await client.get(f"/v1/sessions/{session_id}/messages")).json()["data"]) == 2


async def test_unknown_session_and_agent(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    response = await client.post(f"/v1/sessions/{missing}/messages", json={"content": "hi"})
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "session_id"
    assert (await client.get("/v1/sessions/not-a-uuid")).status_code == 422
    unknown_agent = await client.post("/v1/sessions", json={"agent": "nobody"})
    assert unknown_agent.status_code == 404
    assert "support" in unknown_agent.json()["error"]["message"]


async def test_metadata_size_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/sessions", json={"agent": "support", "metadata": {"blob": "z" * 20_000}})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "metadata"


async def test_pagination_bounds(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await session_with_one_turn(client, fake_openai)
    assert (await client.get(f"/v1/sessions/{session_id}/messages", params={"limit": 0})).status_code == 422
    too_many = await client.get(f"/v1/sessions/{session_id}/messages", params={"limit": 501})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["field"] == "limit"
    page = (await client.get(f"/v1/sessions/{session_id}/messages", params={"limit": 1, "after_seq": 1})).json()
    assert [m["seq"] for m in page["data"]] == [2]


async def test_missing_and_bad_keys(keel_server) -> None:
    async with httpx.AsyncClient(base_url=keel_server.url) as anonymous:
        missing = await anonymous.post("/v1/sessions", json={"agent": "support"})
        assert missing.status_code == 401
        assert "keel keys create" in missing.json()["error"]["message"]
        for header in ("Bearer keel_000000000000_" + "a" * 30, "Bearer nonsense", "Basic abc"):
            response = await anonymous.get("/v1/models", headers={"Authorization": header})
            assert response.status_code == 401, header


async def test_oversized_body_is_413(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await session_with_one_turn(client, fake_openai)
    huge = b'{"content": "' + b"z" * 2_000_000 + b'"}'
    response = await client.post(
        f"/v1/sessions/{session_id}/messages", content=huge, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["details"]["limit"] == 1_048_576

    async def chunked():  # no Content-Length: the limit applies while the body streams in
        for _ in range(40):
            yield b"z" * 65_536

    streamed = await client.post(f"/v1/sessions/{session_id}/messages", content=chunked())
    assert streamed.status_code == 413
    assert len((await client.get(f"/v1/sessions/{session_id}/messages")).json()["data"]) == 2


async def test_malformed_json_names_position(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    session_id = await session_with_one_turn(client, fake_openai)
    response = await client.post(
        f"/v1/sessions/{session_id}/messages",
        content=b'{"content": "x",}',
        headers={"Content-Type": "application/json"},
    )
    error = response.json()["error"]
    assert response.status_code == 422
    assert error["field"] == "body"
    assert "not valid JSON" in error["message"]
    assert "at character" in error["message"]


async def test_dev_server_ignores_foreign_tokens(database, fake_openai: FakeOpenAI, data_dir) -> None:
    from agentkeel.api import create_app
    from agentkeel.config import Settings, parse_config
    from tests.api.conftest import keel_config
    from tests.fakes.openai_server import ServerThread

    settings = Settings(env="dev", host="127.0.0.1", database_url=database.url, data_dir=data_dir, openai_api_key="sk")
    config = parse_config(keel_config(fake_openai.base_url, "http://127.0.0.1:9"), source="test")
    thread = ServerThread(create_app(settings, config)).start()
    try:
        async with httpx.AsyncClient(base_url=thread.url) as dev:
            foreign = await dev.get("/v1/models", headers={"Authorization": "Bearer unused-in-dev"})
            assert foreign.status_code == 200
            bad_keel_key = await dev.get("/v1/models", headers={"Authorization": "Bearer keel_bogus"})
            assert bad_keel_key.status_code == 401
    finally:
        thread.stop()
