"""Errors raised by the knowledge package.

- `DocumentLoadError` (an `InvalidInputError`, 422): a file is not valid UTF-8 or cannot be parsed.
- `EmbedderMismatchError` (a `ConflictError`, 409): the embedder differs from the one a knowledge
  base was built with.
"""

from __future__ import annotations

from agentkeel.errors import ConflictError, InvalidInputError


class DocumentLoadError(InvalidInputError):
    """A document could not be read or parsed. `source` names the file."""

    code = "document_load_failed"

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"Cannot load {source}: {reason}", field="source", source=source, reason=reason)
        self.source = source
        self.reason = reason


class EmbedderMismatchError(ConflictError):
    """The configured embedder differs from the model or dimension stored with the knowledge base."""

    code = "embedder_mismatch"

    def __init__(
        self,
        knowledge_base: str,
        *,
        stored_model: str,
        stored_dimension: int,
        model: str,
        dimension: int,
    ) -> None:
        super().__init__(
            f"Knowledge base {knowledge_base!r} was built with embedding model {stored_model!r} "
            f"({stored_dimension} dimensions), but the configured embedder is {model!r} "
            f"({dimension} dimensions). Vectors from different models cannot be compared: ingest into "
            f"a new knowledge base name, or switch the embedder back to {stored_model!r}.",
            field="embedder",
            knowledge_base=knowledge_base,
            stored_model=stored_model,
            stored_dimension=stored_dimension,
            model=model,
            dimension=dimension,
        )
