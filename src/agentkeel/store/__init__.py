"""Database access: the engine, migrations, Core tables and the embedded Postgres lifecycle."""

from agentkeel.store import schema
from agentkeel.store.engine import Database, create_engine, open_database, to_asyncpg_url
from agentkeel.store.migrate import migrate

__all__ = ["Database", "create_engine", "migrate", "open_database", "schema", "to_asyncpg_url"]
