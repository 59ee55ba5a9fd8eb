from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from agentkeel.config.agents import EmbedderConfig, KnowledgeBaseConfig
from agentkeel.errors import InvalidInputError, NotFoundError
from agentkeel.knowledge import (
    EmbedderMismatchError,
    SourceDocument,
    delete_document,
    delete_missing,
    ensure_knowledge_base,
    ingest_paths,
    ingest_texts,
)
from agentkeel.store import Database, schema
from tests.knowledge.bag_of_words import BagOfWordsTestEmbedder

GUIDE = "# Guide\n\nInstall the agent with pip.\n\n## Keys\n\nCreate an API key with keel keys create.\n"


class RecordingProgress:
    def __init__(self) -> None:
        self.totals: list[int] = []
        self.done: list[tuple[str, int]] = []
        self.embedded = 0

    def on_file_start(self, total_files: int) -> None:
        self.totals.append(total_files)

    def on_file_done(self, source: str, chunks: int) -> None:
        self.done.append((source, chunks))

    def on_chunks_embedded(self, n: int) -> None:
        self.embedded += n


async def chunk_rows(database: Database, tenant_id: str) -> dict[str, list[tuple[str, str]]]:
    """Return {source: [(chunk id, heading), ...]} for the tenant's chunks, in ordinal order."""
    chunks, documents = schema.chunks, schema.documents
    async with database.engine.connect() as connection:
        rows = await connection.execute(
            select(documents.c.source, chunks.c.id, chunks.c.heading)
            .join(documents, documents.c.id == chunks.c.document_id)
            .where(chunks.c.tenant_id == tenant_id)
            .order_by(documents.c.source, chunks.c.ordinal)
        )
        result: dict[str, list[tuple[str, str]]] = {}
        for row in rows:
            result.setdefault(row.source, []).append((str(row.id), row.heading))
        return result


async def document_sources(database: Database, tenant_id: str) -> list[str]:
    documents = schema.documents
    async with database.engine.connect() as connection:
        sources = await connection.scalars(
            select(documents.c.source).where(documents.c.tenant_id == tenant_id).order_by(documents.c.source)
        )
        return list(sources)


def write_tree(root: Path) -> dict[str, Path]:
    files = {
        "guide": root / "guide.md",
        "notes": root / "sub" / "notes.txt",
        "page": root / "sub" / "deeper" / "page.html",
    }
    files["notes"].parent.mkdir(parents=True)
    files["page"].parent.mkdir(parents=True)
    files["guide"].write_text(GUIDE, encoding="utf-8")
    files["notes"].write_text("Plain notes about refunds and shipping.", encoding="utf-8")
    files["page"].write_text("<h1>Status</h1><p>All systems operational.</p>", encoding="utf-8")
    (root / "image.png").write_bytes(b"\x89PNG not supported")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.md").write_text("# Hidden\n\nskip me", encoding="utf-8")
    return files


async def test_directory_walk_stores_supported_files(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder, tmp_path: Path
) -> None:
    files = write_tree(tmp_path)
    progress = RecordingProgress()

    report = await ingest_paths(database.engine, tenant, kb, embedder, [tmp_path], progress=progress)

    assert report.files_seen == 3
    assert report.added == 3
    assert report.failed == []
    assert await document_sources(database, tenant) == sorted(str(path.resolve()) for path in files.values())
    stored = await chunk_rows(database, tenant)
    assert [heading for _, heading in stored[str(files["guide"].resolve())]] == ["Guide", "Guide > Keys"]
    assert report.chunks_written == sum(len(rows) for rows in stored.values())
    assert progress.totals == [3, 3, 3]
    assert progress.embedded == report.chunks_written
    assert sorted(source for source, _ in progress.done) == sorted(str(path.resolve()) for path in files.values())


async def test_second_ingest_changes_nothing(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder, tmp_path: Path
) -> None:
    write_tree(tmp_path)
    await ingest_paths(database.engine, tenant, kb, embedder, [tmp_path])
    before = await chunk_rows(database, tenant)
    embedded_before = embedder.texts_embedded

    report = await ingest_paths(database.engine, tenant, kb, embedder, [tmp_path])

    assert report.unchanged == 3
    assert report.added == 0
    assert report.updated == 0
    assert report.chunks_written == 0
    assert embedder.texts_embedded == embedded_before
    assert await chunk_rows(database, tenant) == before


async def test_changed_file_replaces_its_chunks(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder, tmp_path: Path
) -> None:
    files = write_tree(tmp_path)
    await ingest_paths(database.engine, tenant, kb, embedder, [tmp_path])
    before = await chunk_rows(database, tenant)
    guide = str(files["guide"].resolve())

    files["guide"].write_text(GUIDE + "\n## Upgrade\n\nRun keel migrate after upgrading.\n", encoding="utf-8")
    report = await ingest_paths(database.engine, tenant, kb, embedder, [tmp_path])

    after = await chunk_rows(database, tenant)
    assert report.updated == 1
    assert report.unchanged == 2
    assert [heading for _, heading in after[guide]] == ["Guide", "Guide > Keys", "Guide > Upgrade"]
    assert {chunk_id for chunk_id, _ in after[guide]}.isdisjoint({chunk_id for chunk_id, _ in before[guide]})
    for source, rows in before.items():
        if source != guide:
            assert after[source] == rows


async def test_changed_file_embeds_only_new_chunks(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    original = SourceDocument(source="faq", text="# A\n\nfirst answer\n\n# B\n\nsecond answer\n")
    await ingest_texts(database.engine, tenant, kb, embedder, [original])
    embedded_before = embedder.texts_embedded

    edited = SourceDocument(source="faq", text=original.text + "\n# C\n\nthird answer\n")
    report = await ingest_texts(database.engine, tenant, kb, embedder, [edited])

    assert report.updated == 1
    assert report.chunks_written == 3
    assert embedder.texts_embedded - embedded_before == 1


async def test_document_row_tracks_content(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    await ingest_texts(database.engine, tenant, kb, embedder, [SourceDocument(source="doc", text="# T\n\nbody")])
    await ingest_texts(database.engine, tenant, kb, embedder, [SourceDocument(source="doc", text="# T\n\nnew body")])

    documents = schema.documents
    async with database.engine.connect() as connection:
        row = (
            await connection.execute(
                select(documents.c.title, documents.c.size_bytes, documents.c.chunk_count).where(
                    documents.c.tenant_id == tenant
                )
            )
        ).one()
    assert row.title == "T"
    assert row.size_bytes == len(b"# T\n\nnew body")
    assert row.chunk_count == 1


async def test_unparsable_file_reported_rest_lands(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder, tmp_path: Path
) -> None:
    files = write_tree(tmp_path)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nthis is not a pdf")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café".encode("latin-1"))
    missing = tmp_path / "missing.md"

    report = await ingest_paths(database.engine, tenant, kb, embedder, [tmp_path, missing])

    failed_sources = [source for source, _ in report.failed]
    assert sorted(failed_sources) == sorted([str(broken), str(latin1), str(missing)])
    assert report.added == 3
    assert report.files_seen == 6
    assert await document_sources(database, tenant) == sorted(str(path.resolve()) for path in files.values())


async def test_unsupported_file_named_directly_fails(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder, tmp_path: Path
) -> None:
    sheet = tmp_path / "sheet.xlsx"
    sheet.write_bytes(b"data")

    report = await ingest_paths(database.engine, tenant, kb, embedder, [sheet])

    assert len(report.failed) == 1
    assert report.failed[0][0] == str(sheet)
    assert ".xlsx" in report.failed[0][1]


async def test_delete_missing_removes_deleted_file(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder, tmp_path: Path
) -> None:
    files = write_tree(tmp_path)
    await ingest_texts(database.engine, tenant, kb, embedder, [SourceDocument(source="outside", text="kept")])
    await ingest_paths(database.engine, tenant, kb, embedder, [tmp_path])
    files["notes"].unlink()

    deleted = await delete_missing(database.engine, tenant, kb.name, tmp_path)

    assert deleted == [str(files["notes"].resolve())]
    assert str(files["notes"].resolve()) not in await document_sources(database, tenant)
    assert "outside" in await document_sources(database, tenant)
    assert str(files["notes"].resolve()) not in await chunk_rows(database, tenant)


async def test_delete_document_removes_chunks(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    await ingest_texts(database.engine, tenant, kb, embedder, [SourceDocument(source="doc", text="some words")])

    assert await delete_document(database.engine, tenant, kb.name, "doc") is True
    assert await delete_document(database.engine, tenant, kb.name, "doc") is False
    assert await chunk_rows(database, tenant) == {}


async def test_empty_document_stored_without_chunks(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    document = SourceDocument(source="empty", text="   \n")

    first = await ingest_texts(database.engine, tenant, kb, embedder, [document])
    second = await ingest_texts(database.engine, tenant, kb, embedder, [document])

    assert first.added == 1
    assert first.chunks_written == 0
    assert second.unchanged == 1


async def test_other_embedder_raises_mismatch(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    await ensure_knowledge_base(database.engine, tenant, kb, embedder)
    other = BagOfWordsTestEmbedder(dimension=384, model="another-model")

    with pytest.raises(EmbedderMismatchError) as caught:
        await ingest_texts(database.engine, tenant, kb, other, [SourceDocument(source="doc", text="words")])

    assert "test-bag-of-words" in caught.value.message
    assert "another-model" in caught.value.message


async def test_new_dimension_gets_hnsw_index(database: Database, tenant: str, embedder: BagOfWordsTestEmbedder) -> None:
    small = BagOfWordsTestEmbedder(dimension=24)
    kb = KnowledgeBaseConfig(name="small", embedder=EmbedderConfig(dimension=24))

    await ensure_knowledge_base(database.engine, tenant, kb, small)

    async with database.engine.connect() as connection:
        definition = await connection.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'chunks_embedding_hnsw_24'")
        )
    assert definition is not None
    assert "hnsw" in definition
    assert "vector(24)" in definition
    assert "embedding_dim = 24" in definition


async def test_negative_python_reference_limit_rejected(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    from agentkeel.knowledge import ingest_python_reference

    with pytest.raises(InvalidInputError):
        await ingest_python_reference(database.engine, tenant, kb, embedder, limit=-1)


async def test_knowledge_base_row_created_once(
    database: Database, tenant: str, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    first = await ensure_knowledge_base(database.engine, tenant, kb, embedder)
    second = await ensure_knowledge_base(database.engine, tenant, kb, embedder)

    async with database.engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(schema.knowledge_bases).where(schema.knowledge_bases.c.tenant_id == tenant)
        )
    assert first == second
    assert count == 1


async def test_unknown_tenant_raises_not_found(
    database: Database, kb: KnowledgeBaseConfig, embedder: BagOfWordsTestEmbedder
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await ensure_knowledge_base(database.engine, "t-never-created", kb, embedder)

    assert "t-never-created" in caught.value.message
