"""End to end on the embedded default: SmolLM2 through llama.cpp, MiniLM embeddings, the Python reference."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentkeel import knowledge
from agentkeel.api import create_app
from agentkeel.config import Settings, parse_config
from agentkeel.security import DEFAULT_TENANT, ensure_tenant
from agentkeel.store import Database
from tests.fakes.openai_server import ServerThread

pytestmark = pytest.mark.local_model

CONFIG = {
    "agents": [
        {
            "name": "pyhelp",
            "system_prompt": "Answer questions about Python using the context.\n\nContext:\n{{ context }}",
            "model": {"provider": "local", "max_tokens": 64, "temperature": 0},
            "knowledge_base": "python",
            "retrieval": {"mode": "auto", "top_k": 3},
            "limits": {"turn_timeout_s": 300},
        }
    ],
    "knowledge_bases": [{"name": "python", "embedder": {"provider": "local"}, "chunk_tokens": 160}],
}


@pytest.fixture(scope="module")
def local_server(database: Database, data_dir: Path) -> Iterator[str]:
    settings = Settings(env="dev", host="127.0.0.1", database_url=database.url, data_dir=data_dir)
    thread = ServerThread(create_app(settings, parse_config(CONFIG, source="test"))).start()
    yield thread.url
    thread.stop()


async def test_local_model_answers_with_citations(database: Database, local_server: str) -> None:
    config = parse_config(CONFIG, source="test")
    kb = config.knowledge_base("python")
    assert kb is not None
    await ensure_tenant(database.engine, DEFAULT_TENANT)
    report = await knowledge.ingest_python_reference(
        database.engine, DEFAULT_TENANT, kb, knowledge.build_embedder(kb.embedder)
    )
    assert report.failed == []
    assert report.files_seen == 79

    async with httpx.AsyncClient(base_url=local_server, timeout=300) as client:
        session = (await client.post("/v1/sessions", json={"agent": "pyhelp"})).json()
        response = await client.post(
            f"/v1/sessions/{session['id']}/messages", json={"content": "How does the with statement work?"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"] == "SmolLM2-135M-Instruct"
        assert body["message"]["status"] == "complete"
        assert body["message"]["content"].strip()
        assert body["usage"]["output_tokens"] > 0
        assert body["usage"]["cost_usd"] == "0.00000000"

        citations = body["message"]["citations"]
        assert citations, "the answer must cite the chunks it was given"
        assert any(c["source"] in ("python-reference:with", "python-reference:context-managers") for c in citations)

        trace = None
        for _ in range(100):
            found = await client.get(f"/v1/traces/{body['trace_id']}")
            if found.status_code == 200:
                trace = found.json()
                break

            await asyncio.sleep(0.05)
        assert trace is not None
        retrieval = [span for span in trace["spans"] if span["kind"] == "retrieval"]
        assert len(retrieval) == 1
        retrieved_ids = set(retrieval[0]["attributes"]["chunk_ids"])
        assert {c["chunk_id"] for c in citations} <= retrieved_ids
