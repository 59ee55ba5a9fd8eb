"""Split document sections into overlapping chunks of a bounded token count.

NOTE: "tokens" here are an approximation, not a model tokenizer: a token is a run of word characters
or a single punctuation character (regex `\\w+|[^\\w\\s]`). It is deterministic and needs no model
files. Model tokenizers split rare words, numbers and code into more pieces: on the Python reference
topics shipped with CPython 3.11 (`pydoc_data.topics`), the all-MiniLM-L6-v2 WordPiece tokenizer
counts 1.12 times as many tokens as this function. Budgets built on `count_tokens` need headroom.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from agentkeel.errors import InvalidInputError

TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")
SENTENCE_END = frozenset({".", "!", "?"})


@dataclass(frozen=True)
class Section:
    """A run of document text under one heading. `heading` is a path such as "Guide > Install"."""

    heading: str
    text: str


@dataclass(frozen=True)
class Chunk:
    """A piece of a section small enough to embed. `ordinal` is its position in the document."""

    heading: str
    content: str
    ordinal: int
    token_count: int
    content_hash: str


def count_tokens(text: str) -> int:
    """Count approximate tokens in `text` (see the module note on the approximation)."""
    return sum(1 for _ in TOKEN_PATTERN.finditer(text))


def content_hash(text: str) -> str:
    """Return the hex SHA-256 of `text` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_sections(sections: Iterable[Section], *, chunk_tokens: int, chunk_overlap: int) -> list[Chunk]:
    """Split each section into chunks of at most `chunk_tokens` tokens.

    Consecutive chunks of one section share `chunk_overlap` tokens. A chunk ends at a line break or
    sentence end when one falls in the second half of its window, so chunks rarely cut a sentence.
    Chunk content is a verbatim slice of the section text. Sections without tokens produce no chunks.
    Raises `InvalidInputError` when the sizes are out of range.
    """
    if chunk_tokens < 1:
        raise InvalidInputError(f"chunk_tokens must be at least 1, got {chunk_tokens}.", field="chunk_tokens")
    if not 0 <= chunk_overlap < chunk_tokens:
        raise InvalidInputError(
            f"chunk_overlap must be between 0 and chunk_tokens - 1 ({chunk_tokens - 1}), got {chunk_overlap}.",
            field="chunk_overlap",
        )
    chunks: list[Chunk] = []
    for section in sections:
        spans = [match.span() for match in TOKEN_PATTERN.finditer(section.text)]
        for start, end in _token_windows(section.text, spans, chunk_tokens, chunk_overlap):
            content = section.text[spans[start][0] : spans[end - 1][1]]
            chunks.append(
                Chunk(
                    heading=section.heading,
                    content=content,
                    ordinal=len(chunks),
                    token_count=end - start,
                    content_hash=content_hash(content),
                )
            )
    return chunks


def _token_windows(text: str, spans: list[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Return [start, end) token index windows that cover every token of `spans`."""
    windows: list[tuple[int, int]] = []
    start = 0
    while start < len(spans):
        end = min(start + size, len(spans))
        if end < len(spans):
            end = _snap_to_boundary(text, spans, start, end)
        windows.append((start, end))
        if end == len(spans):
            break
        # Always advance by at least one token, even when the snapped window is shorter than the overlap.
        start = max(end - overlap, start + 1)
    return windows


def _snap_to_boundary(text: str, spans: list[tuple[int, int]], start: int, end: int) -> int:
    """Move `end` back to just after a line break or sentence end in the window's second half."""
    earliest = start + (end - start) // 2
    for last in range(end - 1, earliest, -1):
        token_start, token_end = spans[last]
        next_start = spans[last + 1][0]
        if "\n" in text[token_end:next_start] or text[token_start:token_end] in SENTENCE_END:
            return last + 1
    return end
