from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkeel.errors import InvalidInputError
from agentkeel.knowledge import Section, chunk_sections, count_tokens
from agentkeel.knowledge.chunking import TOKEN_PATTERN


def tokens(text: str) -> list[str]:
    return TOKEN_PATTERN.findall(text)


def test_count_tokens_words_and_punctuation() -> None:
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("") == 0
    assert count_tokens("  \n\t ") == 0
    assert count_tokens("snake_case x2") == 2


def test_short_section_is_one_chunk() -> None:
    chunks = chunk_sections([Section("Guide", "Install it with pip.")], chunk_tokens=50, chunk_overlap=5)

    assert len(chunks) == 1
    assert chunks[0].heading == "Guide"
    assert chunks[0].content == "Install it with pip."
    assert chunks[0].ordinal == 0
    assert chunks[0].token_count == 5
    assert chunks[0].content_hash == hashlib.sha256(b"Install it with pip.").hexdigest()


def test_long_section_overlaps_by_configured_tokens() -> None:
    text = " ".join(f"w{i}" for i in range(100))

    chunks = chunk_sections([Section("", text)], chunk_tokens=30, chunk_overlap=10)

    assert [chunk.token_count for chunk in chunks] == [30, 30, 30, 30, 20]
    assert tokens(chunks[1].content)[:10] == tokens(chunks[0].content)[-10:]
    assert tokens(chunks[-1].content)[-1] == "w99"


def test_chunk_ends_at_sentence_in_second_half() -> None:
    first = "one two three four five six seven."
    text = f"{first} eight nine ten eleven twelve"

    chunks = chunk_sections([Section("", text)], chunk_tokens=10, chunk_overlap=0)

    assert chunks[0].content == first
    assert chunks[1].content == "eight nine ten eleven twelve"


def test_ordinals_run_across_sections() -> None:
    sections = [Section("A", "alpha beta"), Section("B", "   "), Section("C", "gamma")]

    chunks = chunk_sections(sections, chunk_tokens=16, chunk_overlap=0)

    assert [chunk.heading for chunk in chunks] == ["A", "C"]
    assert [chunk.ordinal for chunk in chunks] == [0, 1]


def test_empty_sections_produce_no_chunks() -> None:
    assert chunk_sections([Section("A", ""), Section("B", "\n\n")], chunk_tokens=16, chunk_overlap=0) == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_invalid_sizes_rejected(size: int, overlap: int) -> None:
    with pytest.raises(InvalidInputError):
        chunk_sections([Section("", "text")], chunk_tokens=size, chunk_overlap=overlap)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("abc .,!?\n-_")), max_size=400),
    size=st.integers(min_value=1, max_value=40),
    overlap_share=st.floats(min_value=0, max_value=0.95),
)
def test_chunks_bounded_and_lossless(text: str, size: int, overlap_share: float) -> None:
    overlap = min(int(size * overlap_share), size - 1)
    source_tokens = tokens(text)

    chunks = chunk_sections([Section("h", text)], chunk_tokens=size, chunk_overlap=overlap)

    for chunk in chunks:
        assert chunk.token_count <= size
        assert count_tokens(chunk.content) == chunk.token_count
        assert chunk.content in text
    # Each chunk must continue the token stream where the previous one ended, starting at most
    # `overlap` tokens back, so no token of the section is skipped.
    covered_end = 0
    for chunk in chunks:
        chunk_tokens = tokens(chunk.content)
        starts = [
            start
            for start in range(max(0, covered_end - overlap), covered_end + 1)
            if source_tokens[start : start + len(chunk_tokens)] == chunk_tokens
        ]
        assert starts, f"chunk {chunk.ordinal} does not continue the token stream at {covered_end}"
        covered_end = max(starts) + len(chunk_tokens)
    assert covered_end == len(source_tokens)
