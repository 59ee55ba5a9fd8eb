"""A real Keel server (uvicorn on loopback) backed by the test database and the fake OpenAI server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentkeel import knowledge
from agentkeel.api import create_app
from agentkeel.config import Settings, parse_config
from agentkeel.security import create_api_key
from agentkeel.store import Database
from tests.fakes.openai_server import FakeOpenAI, ServerThread

# The fake embedder endpoint and the fake provider accept any key; the embedder reads it from here.
os.environ.setdefault("KEEL_OPENAI_API_KEY", "sk-test")


@dataclass
class ToolServer:
    calls: list[dict[str, object]]
    thread: ServerThread


@pytest.fixture(scope="session")
def tool_server() -> Iterator[ToolServer]:
    calls: list[dict[str, object]] = []

    async def order_status(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append(body)
        return JSONResponse({"order_id": body.get("order_id"), "status": "shipped", "eta_days": 2})

    thread = ServerThread(Starlette(routes=[Route("/orders", order_status, methods=["POST"])])).start()
    yield ToolServer(calls=calls, thread=thread)
    thread.stop()


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    thread = ServerThread(fake.app()).start()
    fake.base_url = f"{thread.url}/v1"
    yield fake
    thread.stop()


def keel_config(fake_url: str, tool_url: str) -> dict[str, object]:
    embedder = {"provider": "openai_compatible", "model": "fake-embed", "dimension": 384, "base_url": fake_url}
    return {
        "agents": [
            {
                "name": "support",
                "description": "Support agent on the fake provider.",
                "system_prompt": "You are {{ agent_name }}. Context:\n{{ context }}",
                "model": {"provider": "openai_compatible", "name": "gpt-4o-mini", "base_url": fake_url},
                "knowledge_base": "docs",
                "retrieval": {"mode": "pre", "top_k": 3},
                "limits": {"max_input_chars": 2000, "max_steps": 3, "turn_timeout_s": 20},
            },
            {
                "name": "toolsmith",
                "system_prompt": "You are a support agent with tools.",
                "model": {"provider": "openai_compatible", "name": "gpt-4o-mini", "base_url": fake_url},
                "knowledge_base": "docs",
                "retrieval": {"mode": "tool", "top_k": 2},
                "tools": [
                    {
                        "name": "order_status",
                        "description": "Look up an order.",
                        "url": f"{tool_url}/orders",
                        "parameters": {
                            "type": "object",
                            "properties": {"order_id": {"type": "string"}},
                            "required": ["order_id"],
                        },
                        "timeout_s": 5,
                    }
                ],
                "limits": {"max_steps": 4},
            },
        ],
        "knowledge_bases": [{"name": "docs", "embedder": embedder, "chunk_tokens": 120, "chunk_overlap": 20}],
    }


@dataclass
class KeelServer:
    url: str
    thread: ServerThread
    config: object


@pytest.fixture(scope="session")
def keel_server(
    database: Database, fake_openai: FakeOpenAI, tool_server: ToolServer, data_dir: Path
) -> Iterator[KeelServer]:
    fake_url = fake_openai.base_url
    config = parse_config(keel_config(fake_url, tool_server.thread.url), source="test")
    settings = Settings(
        env="dev",
        database_url=database.url,
        data_dir=data_dir,
        require_api_keys=True,
        openai_api_key="sk-test",
        trace_flush_interval_s=0.05,
    )
    thread = ServerThread(create_app(settings, config)).start()
    yield KeelServer(url=thread.url, thread=thread, config=config)
    thread.stop()


@pytest_asyncio.fixture
async def api_key(database: Database, tenant: str) -> str:
    _, key = await create_api_key(database.engine, tenant)
    return key


@pytest_asyncio.fixture
async def client(keel_server: KeelServer, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=keel_server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as http:
        yield http


DOCS = {
    "refunds.md": "# Refunds\n\nRefunds are issued within 14 days of a return. The refund goes to the original card.\n",
    "shipping.md": "# Shipping\n\nStandard shipping takes 3 to 5 business days. Express shipping takes 1 day.\n",
    "warranty.md": "# Warranty\n\nEvery kettle has a two year warranty covering the heating element.\n",
}


@pytest_asyncio.fixture
async def docs(database: Database, tenant: str, keel_server: KeelServer, tmp_path: Path) -> None:
    """Ingest three small documents into the tenant's `docs` knowledge base."""
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text)
    kb = keel_server.config.knowledge_base("docs")  # type: ignore[attr-defined]
    # A fresh embedder: the cached one belongs to the server thread's event loop.
    embedder = knowledge.OpenAIEmbedder(kb.embedder)
    report = await knowledge.ingest_paths(database.engine, tenant, kb, embedder, [tmp_path])
    assert report.failed == []


@pytest.fixture(autouse=True)
def _reset_fake_script(fake_openai: FakeOpenAI) -> None:
    """Replies a test scripted but never consumed must not leak into the next test."""
    fake_openai.script.clear()
