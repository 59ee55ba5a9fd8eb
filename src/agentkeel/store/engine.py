"""The async SQLAlchemy engine and the database lifecycle (embedded or external)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agentkeel.errors import ConfigurationError
from agentkeel.store.embedded import EmbeddedPostgres
from agentkeel.store.migrate import migrate

logger = logging.getLogger(__name__)


def to_asyncpg_url(url: str) -> str:
    """Accept `postgres://`, `postgresql://` or `postgresql+<driver>://` and return an asyncpg URL."""
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    except Exception as exc:
        raise ConfigurationError(f"KEEL_DATABASE_URL is not a valid database URL: {exc}") from exc
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"KEEL_DATABASE_URL must point at PostgreSQL with pgvector, got {parsed.get_backend_name()!r}."
        )
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    return create_async_engine(
        to_asyncpg_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={"server_settings": {"application_name": "keel", "timezone": "UTC"}},
    )


@dataclass
class Database:
    """An engine plus the embedded server it may own. Use `open_database` to build one."""

    engine: AsyncEngine
    url: str
    embedded: EmbeddedPostgres | None = field(default=None, repr=False)

    async def close(self) -> None:
        await self.engine.dispose()
        if self.embedded is not None:
            self.embedded.stop()

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))


async def open_database(
    database_url: str | None, data_dir: Path, *, apply_migrations: bool = True, pool_size: int = 20
) -> Database:
    """Connect to `database_url`, or start the embedded server under `data_dir` when it is None."""
    embedded = None
    if database_url is None:
        embedded = EmbeddedPostgres(data_dir)
        database_url = embedded.start()
    engine = create_engine(database_url, pool_size=pool_size)
    database = Database(engine=engine, url=database_url, embedded=embedded)
    try:
        await database.ping()
        if apply_migrations:
            await migrate(engine)
    except (SQLAlchemyError, OSError) as exc:
        await database.close()
        redacted_url = make_url(to_asyncpg_url(database_url)).render_as_string(hide_password=True)
        raise ConfigurationError(f"Cannot use the database at {redacted_url}: {exc}") from exc
    return database
