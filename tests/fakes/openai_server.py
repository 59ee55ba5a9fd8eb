"""A scriptable fake of the OpenAI HTTP API, served by uvicorn on loopback.

It speaks the real wire protocol: chat completions (JSON and SSE chunks, tool calls, usage) and
embeddings. Tests queue `Reply` objects to script 429s, 5xx, slow streams and cut streams.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    content: str = "This is a scripted answer."
    tool_calls: list[dict[str, Any]] | None = None  # [{"name": ..., "arguments": {...}}]
    status: int = 200
    delay_s: float = 0.0  # before the first byte
    token_delay_s: float = 0.0  # between streamed chunks
    cut_after_chunks: int | None = None  # close the stream abruptly after this many chunks
    include_usage: bool = True
    finish_reason: str | None = None  # None: "tool_calls" when tool_calls are scripted, else "stop"


@dataclass
class FakeOpenAI:
    default: Reply = field(default_factory=Reply)
    script: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    embedding_requests: int = 0
    streams_closed_early: int = 0
    chunks_sent: int = 0
    embedding_dimension: int = 384
    fixed_delay_s: float = 0.0
    base_url: str = ""  # set by whoever serves the app, including the /v1 part

    def next_reply(self) -> Reply:
        return self.script.popleft() if self.script else self.default

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            ]
        )

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        reply = self.next_reply()
        delay = reply.delay_s or self.fixed_delay_s
        if delay:
            await asyncio.sleep(delay)
        if reply.status != 200:
            return JSONResponse(
                {"error": {"message": f"scripted status {reply.status}", "type": "server_error", "code": None}},
                status_code=reply.status,
            )
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in body["messages"]) + 3
        words = reply.content.split(" ") if reply.content else []
        pieces = [word if i == 0 else " " + word for i, word in enumerate(words)]
        completion_tokens = len(pieces)
        model = body.get("model", "fake-model")
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": reply.content}
            if reply.tool_calls:
                message["tool_calls"] = self._tool_calls(reply)
            return JSONResponse(
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and reply.include_usage
        return StreamingResponse(
            self._stream(reply, pieces, model, prompt_tokens, include_usage), media_type="text/event-stream"
        )

    def _tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        return [
            {
                "id": f"call_{i}_{uuid.uuid4().hex[:8]}",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call.get("arguments", {}))},
            }
            for i, call in enumerate(reply.tool_calls or [])
        ]

    async def _stream(self, reply: Reply, pieces: list[str], model: str, prompt_tokens: int, include_usage: bool):
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"

        def frame(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
            payload: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": choices,
            }
            if usage is not None:
                payload["usage"] = usage
            return f"data: {json.dumps(payload)}\n\n".encode()

        sent = 0
        try:
            yield frame([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
            for piece in pieces:
                if reply.cut_after_chunks is not None and sent >= reply.cut_after_chunks:
                    raise ConnectionAbortedError("scripted cut")
                if reply.token_delay_s:
                    await asyncio.sleep(reply.token_delay_s)
                yield frame([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
                sent += 1
                self.chunks_sent += 1
            for index, call in enumerate(self._tool_calls(reply)):
                yield frame([{"index": 0, "delta": {"tool_calls": [{"index": index, **call}]}, "finish_reason": None}])
            finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
            yield frame([{"index": 0, "delta": {}, "finish_reason": finish}])
            if include_usage:
                yield frame(
                    [],
                    {"prompt_tokens": prompt_tokens, "completion_tokens": sent, "total_tokens": prompt_tokens + sent},
                )
            yield b"data: [DONE]\n\n"
        except (asyncio.CancelledError, GeneratorExit):
            self.streams_closed_early += 1
            raise

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.embedding_requests += 1
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": hashed_vector(text, self.embedding_dimension)}
            for i, text in enumerate(inputs)
        ]
        tokens = sum(len(str(text).split()) for text in inputs)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


def hashed_vector(text: str, dimension: int) -> list[float]:
    """A deterministic unit vector from the text's words, so equal words land near each other."""
    vector = [0.0] * dimension
    for word in str(text).lower().split():
        digest = hashlib.sha256(word.encode()).digest()
        for i in range(0, 8, 2):
            vector[int.from_bytes(digest[i : i + 2], "big") % dimension] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """Run an ASGI app under uvicorn in a daemon thread on 127.0.0.1."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("server thread died during start")
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start within 60 s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
