from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from pydantic import HttpUrl

from agentkeel.config.agents import EmbedderConfig
from agentkeel.errors import ConfigurationError, UpstreamError
from agentkeel.knowledge import Embedder, LocalEmbedder, OpenAIEmbedder, build_embedder
from agentkeel.knowledge.embedders import _load_local_model
from tests.fakes.openai_server import FakeOpenAI, ServerThread, free_port, hashed_vector

KEY_VARIABLE = "KEEL_TEST_EMBEDDING_KEY"


def cosine(left: list[float], right: list[float]) -> float:
    return sum(a * b for a, b in zip(left, right, strict=True))


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    server = ServerThread(fake.app()).start()
    yield fake, f"{server.url}/v1"
    server.stop()


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_VARIABLE, "test-key")
    return KEY_VARIABLE


@pytest.mark.local_model
async def test_local_vectors_are_normalized(local_embedder: LocalEmbedder) -> None:
    vectors = await local_embedder.embed(["Reset your password.", "The cat sleeps."])

    assert len(vectors) == 2
    assert [len(vector) for vector in vectors] == [384, 384]
    assert math.sqrt(sum(value * value for value in vectors[0])) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.local_model
async def test_local_similar_texts_are_closer(local_embedder: LocalEmbedder) -> None:
    password, login, weather = await local_embedder.embed(
        ["How do I reset my password?", "I cannot log in to my account.", "It will rain tomorrow."]
    )

    assert cosine(password, login) > cosine(password, weather)


@pytest.mark.local_model
async def test_local_empty_input_returns_empty(local_embedder: LocalEmbedder) -> None:
    assert await local_embedder.embed([]) == []


@pytest.mark.local_model
def test_local_model_loaded_once() -> None:
    assert _load_local_model() is _load_local_model()


def test_local_embedder_satisfies_protocol(local_embedder: LocalEmbedder) -> None:
    assert isinstance(local_embedder, Embedder)
    assert local_embedder.model == "all-MiniLM-L6-v2"
    assert local_embedder.dimension == 384


def test_import_does_not_load_torch() -> None:
    code = "import sys, agentkeel.knowledge; print('torch' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert output.strip() == "False"


def test_build_embedder_cached_per_config() -> None:
    config = EmbedderConfig(batch_size=7)

    assert build_embedder(config) is build_embedder(EmbedderConfig(batch_size=7))
    assert build_embedder(config) is not build_embedder(EmbedderConfig(batch_size=8))


def test_build_local_rejects_other_model() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_embedder(EmbedderConfig(model="bge-small"))

    assert "bge-small" in caught.value.message
    assert "openai_compatible" in caught.value.message


def test_build_local_rejects_other_dimension() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_embedder(EmbedderConfig(dimension=768))

    assert "768" in caught.value.message


def test_openai_missing_key_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)

    with pytest.raises(ConfigurationError) as caught:
        build_embedder(EmbedderConfig(provider="openai_compatible", api_key_env=KEY_VARIABLE))

    assert KEY_VARIABLE in caught.value.message
    assert "export" in caught.value.message.lower()


async def test_openai_embeds_in_order_and_batches(fake_openai: tuple[FakeOpenAI, str], api_key: str) -> None:
    fake, base_url = fake_openai
    config = EmbedderConfig(
        provider="openai_compatible", model="fake-embed", base_url=HttpUrl(base_url), api_key_env=api_key, batch_size=2
    )
    embedder = OpenAIEmbedder(config)
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    requests_before = fake.embedding_requests

    vectors = await embedder.embed(texts)

    assert vectors == [pytest.approx(hashed_vector(text, 384)) for text in texts]
    assert fake.embedding_requests - requests_before == 3


async def test_openai_dimension_mismatch_raises(fake_openai: tuple[FakeOpenAI, str], api_key: str) -> None:
    _, base_url = fake_openai
    config = EmbedderConfig(
        provider="openai_compatible", base_url=HttpUrl(base_url), api_key_env=api_key, dimension=1536
    )

    with pytest.raises(UpstreamError) as caught:
        await OpenAIEmbedder(config).embed(["alpha"])

    assert "384 dimensions" in caught.value.message
    assert "1536" in caught.value.message


async def test_openai_connection_error_is_upstream(api_key: str) -> None:
    config = EmbedderConfig(
        provider="openai_compatible", base_url=HttpUrl(f"http://127.0.0.1:{free_port()}/v1"), api_key_env=api_key
    )

    with pytest.raises(UpstreamError) as caught:
        await OpenAIEmbedder(config).embed(["alpha"])

    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_openai_http_error_is_upstream(fake_openai: tuple[FakeOpenAI, str], api_key: str) -> None:
    _, base_url = fake_openai
    config = EmbedderConfig(provider="openai_compatible", base_url=HttpUrl(f"{base_url}/missing"), api_key_env=api_key)

    with pytest.raises(UpstreamError) as caught:
        await OpenAIEmbedder(config).embed(["alpha"])

    assert caught.value.details["status"] == 404
    assert "HTTP 404" in caught.value.message
