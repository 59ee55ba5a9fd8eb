"""A deterministic test-only embedder, so tests that store many chunks need no model."""

from __future__ import annotations

import hashlib
import math


class BagOfWordsTestEmbedder:
    """Test-only embedder: hashes lowercased words into a unit vector, so shared words mean similar vectors.

    It is deterministic and fast for tests that store many chunks. It counts the texts it embeds, so
    tests can check that unchanged documents are not embedded again.
    """

    def __init__(self, dimension: int = 384, model: str = "test-bag-of-words") -> None:
        self.model = model
        self.dimension = dimension
        self.texts_embedded = 0

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts_embedded += len(texts)
        return [self._vector(text) for text in texts]

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for word in text.lower().split():
            digest = hashlib.sha256(word.encode()).digest()
            index = int.from_bytes(digest[:4], "big") % self.dimension
            vector[index] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(value * value for value in vector)) or 1.0
        return [value / norm for value in vector]
