"""The batching trace writer, and the SIGTERM flush of a real `keel serve` process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import yaml
from sqlalchemy import func, select

from agentkeel.gateway import Usage
from agentkeel.sessions import create_session
from agentkeel.store import Database, schema
from agentkeel.tracing import Trace, TraceWriter, get_trace
from tests.fakes.openai_server import FakeOpenAI, ServerThread, free_port


def finished_trace(tenant: str, session_id: uuid.UUID | None) -> Trace:
    trace = Trace(tenant_id=tenant, session_id=session_id, turn_id=uuid.uuid4(), name="turn test", agent="a")
    with trace.span("llm fake", "llm") as span:
        span.record_usage(Usage(10, 5), "fake")
    return trace


async def count_traces(database: Database, tenant: str) -> int:
    async with database.engine.connect() as connection:
        value = await connection.scalar(select(func.count()).where(schema.traces.c.tenant_id == tenant))
    return int(value or 0)


async def test_stop_drains_queue(database: Database, tenant: str) -> None:
    writer = TraceWriter(database.engine, batch_size=7, flush_interval_s=60)
    writer.start()
    for _ in range(25):
        writer.submit(finished_trace(tenant, None).finish("ok"))
    await writer.stop()
    assert await count_traces(database, tenant) == 25
    assert writer.written == 25


async def test_trace_rows_carry_usage(database: Database, tenant: str) -> None:
    writer = TraceWriter(database.engine)
    trace = finished_trace(tenant, None)
    writer.submit(trace.finish("ok"))
    await writer.stop()
    stored = await get_trace(database.engine, tenant, trace.id)
    assert stored["input_tokens"] == 10
    assert stored["output_tokens"] == 5
    assert [span["kind"] for span in stored["spans"]] == ["turn", "llm"]


async def test_deleted_session_drops_only_its_trace(database: Database, tenant: str) -> None:
    live_session = await create_session(database.engine, tenant, "a")
    writer = TraceWriter(database.engine, flush_interval_s=60)
    writer.submit(finished_trace(tenant, live_session["id"]).finish("ok"))
    writer.submit(finished_trace(tenant, uuid.uuid4()).finish("ok"))  # no such session: foreign key fails
    writer.submit(finished_trace(tenant, None).finish("ok"))
    await writer.stop()
    assert await count_traces(database, tenant) == 2
    assert writer.failed == 1


async def test_full_queue_drops_and_counts(database: Database, tenant: str) -> None:
    writer = TraceWriter(database.engine, queue_max=100)
    for _ in range(105):
        writer.submit(finished_trace(tenant, None).finish("ok"))
    assert writer.dropped == 5
    await writer.stop()
    assert await count_traces(database, tenant) == 100


async def test_sigterm_flushes_traces(database: Database, tmp_path: Path) -> None:
    fake = FakeOpenAI()
    provider = ServerThread(fake.app()).start()
    config = {
        "agents": [
            {
                "name": "plain",
                "system_prompt": "Be brief.",
                "model": {"provider": "openai_compatible", "base_url": f"{provider.url}/v1"},
                "knowledge_base": None,
            }
        ]
    }
    (tmp_path / "keel.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    env = {
        **os.environ,
        "KEEL_DATABASE_URL": database.url,
        "KEEL_CONFIG_FILE": str(tmp_path / "keel.yaml"),
        "KEEL_PORT": str(port),
        "KEEL_OPENAI_API_KEY": "sk-test",
        "KEEL_TRACE_FLUSH_INTERVAL_S": "60",  # only the shutdown flush can write these traces
        "KEEL_TRACE_BATCH_SIZE": "1000",
    }
    server = subprocess.Popen(  # noqa: ASYNC220 - starting the process does not wait for it
        [sys.executable, "-m", "agentkeel.cli", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "keel serve did not become ready"
                await asyncio.sleep(0.2)
            session = (await client.post("/v1/sessions", json={"agent": "plain"})).json()
            trace_ids = []
            for i in range(3):
                body = (await client.post(f"/v1/sessions/{session['id']}/messages", json={"content": f"q{i}"})).json()
                trace_ids.append(uuid.UUID(body["trace_id"]))
        server.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.to_thread(server.communicate, timeout=60)
        # uvicorn re-raises the signal after its graceful shutdown, so the exit status is -SIGTERM.
        assert server.returncode in (0, -signal.SIGTERM), stderr.decode()[-2000:]
        assert b"trace writer stopped: written=3" in stderr
    finally:
        if server.poll() is None:
            server.kill()
        provider.stop()
    async with database.engine.connect() as connection:
        stored = await connection.scalar(select(func.count()).where(schema.traces.c.id.in_(trace_ids)))
    assert stored == 3
