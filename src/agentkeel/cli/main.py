"""`keel` commands. Each parses its options, calls one service function and prints the outcome."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from agentkeel.config import get_settings, load_config
from agentkeel.errors import KeelError
from agentkeel.logs import configure_logging

app = typer.Typer(help="Keel: a runtime for customer-facing LLM agents.", no_args_is_help=True)
keys_app = typer.Typer(help="Create and revoke API keys.", no_args_is_help=True)
traces_app = typer.Typer(help="Inspect traces.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(traces_app, name="traces")

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
UrlOption = Annotated[str, typer.Option("--url", envvar="KEEL_URL", help="Base URL of a running `keel serve`.")]
KeyOption = Annotated[
    str | None, typer.Option("--api-key", envvar="KEEL_API_KEY", help="API key; not needed for a dev server.")
]


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine and turn Keel errors into a one-line message and exit code 1."""
    try:
        return asyncio.run(factory())  # type: ignore[arg-type]
    except KeelError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


def _setup_logging() -> None:
    settings = get_settings()
    configure_logging(settings.resolved_log_format, settings.log_level)


@app.callback()
def _root() -> None:
    try:
        _setup_logging()
    except KeelError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind; overrides KEEL_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port; overrides KEEL_PORT.")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes sharing the port; each runs its own event loop.")
    ] = 1,
) -> None:
    """Serve the HTTP API. With no KEEL_DATABASE_URL, starts the embedded PostgreSQL under KEEL_DATA_DIR."""
    import os

    import uvicorn

    from agentkeel.api import create_app

    # Workers are new processes that read their settings from the environment, so overrides go there.
    if host is not None:
        os.environ["KEEL_HOST"] = host
    if port is not None:
        os.environ["KEEL_PORT"] = str(port)
    get_settings.cache_clear()
    settings = get_settings()
    # uvicorn turns SIGTERM and SIGINT into a graceful shutdown, which runs the app's lifespan exit
    # and so drains the trace queue before the process ends.
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 30,
    }
    try:
        settings.check_startable()
        if workers == 1:
            uvicorn.run(create_app(settings), **options)
        else:
            uvicorn.run("agentkeel.api.server:app_from_environment", factory=True, workers=workers, **options)
    except KeelError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


@app.command()
def migrate() -> None:
    """Apply database migrations and exit."""
    from agentkeel.store import open_database

    async def run() -> None:
        settings = get_settings()
        database = await open_database(settings.database_url, settings.data_dir)
        await database.close()

    _run(run)
    console.print("database schema is current")


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or directories to ingest.")] = None,
    source: Annotated[str | None, typer.Option(help="A built-in source instead of paths: python-reference.")] = None,
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base name from keel.yaml.")] = "default",
    tenant: Annotated[str, typer.Option(help="Tenant that owns the documents.")] = "default",
    limit: Annotated[int | None, typer.Option(help="python-reference only: ingest the first N topics.")] = None,
    delete_missing: Annotated[
        bool, typer.Option("--delete-missing", help="Delete documents under PATHS whose files are gone.")
    ] = False,
) -> None:
    """Load, chunk, embed and store documents (Markdown, text, HTML, PDF).

    Files that cannot be read or parsed are listed and skipped, the rest are stored, and the exit
    status is then 1.
    """
    from agentkeel import knowledge
    from agentkeel.cli.progress import RichIngestProgress
    from agentkeel.security import ensure_tenant
    from agentkeel.store import open_database

    if not paths and source is None:
        err_console.print("[red]error:[/red] give PATHS to ingest or --source python-reference")
        raise typer.Exit(2)
    if source is not None and source != "python-reference":
        err_console.print(f"[red]error:[/red] unknown --source {source!r}; the built-in source is python-reference")
        raise typer.Exit(2)

    settings = get_settings()
    config = load_config(settings.config_file)
    kb_config = config.knowledge_base(kb)
    if kb_config is None:
        known = ", ".join(k.name for k in config.knowledge_bases)
        err_console.print(f"[red]error:[/red] knowledge base {kb!r} is not in keel.yaml; defined: {known}")
        raise typer.Exit(2)

    async def run() -> Any:
        database = await open_database(settings.database_url, settings.data_dir)
        try:
            await ensure_tenant(database.engine, tenant)
            embedder = knowledge.build_embedder(kb_config.embedder)
            with RichIngestProgress(console) as progress:
                if source == "python-reference":
                    report = await knowledge.ingest_python_reference(
                        database.engine, tenant, kb_config, embedder, progress=progress, limit=limit
                    )
                else:
                    report = await knowledge.ingest_paths(
                        database.engine, tenant, kb_config, embedder, list(paths or []), progress=progress
                    )
            removed: list[str] = []
            if delete_missing:
                for root in paths or []:
                    removed += await knowledge.delete_missing(database.engine, tenant, kb, root)
            return report, removed
        finally:
            await database.close()

    report, removed = _run(run)
    console.print(
        f"files: {report.files_seen}  added: {report.added}  updated: {report.updated}  "
        f"unchanged: {report.unchanged}  failed: {len(report.failed)}  chunks written: {report.chunks_written}  "
        f"time: {report.seconds:.1f} s"
    )
    for failed_source, reason in report.failed:
        err_console.print(f"[yellow]skipped[/yellow] {failed_source}: {reason}")
    for deleted_source in removed:
        console.print(f"deleted {deleted_source}")
    if report.failed:
        # The other files were stored, and the exit status signals to a script that some were not.
        raise typer.Exit(1)


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant the key acts for; created if new.")],
    name: Annotated[str | None, typer.Option(help="A label to recognise the key by.")] = None,
) -> None:
    """Create an API key. It is printed once; only its hash is stored."""
    from agentkeel.security import create_api_key
    from agentkeel.store import open_database

    async def run() -> tuple[uuid.UUID, str]:
        settings = get_settings()
        database = await open_database(settings.database_url, settings.data_dir)
        try:
            return await create_api_key(database.engine, tenant, name)
        finally:
            await database.close()

    key_id, key = _run(run)
    err_console.print(f"key id {key_id} for tenant {tenant!r}; store the key now, it is not shown again:")
    console.print(key)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[uuid.UUID, typer.Argument(help="The key id printed by `keel keys create`.")]) -> None:
    """Revoke an API key."""
    from agentkeel.security import revoke_api_key
    from agentkeel.store import open_database

    async def run() -> None:
        settings = get_settings()
        database = await open_database(settings.database_url, settings.data_dir)
        try:
            await revoke_api_key(database.engine, key_id)
        finally:
            await database.close()

    _run(run)
    console.print(f"revoked {key_id}")


@app.command()
def chat(
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
    agent: Annotated[str, typer.Option(help="Agent to talk to.")] = "assistant",
    message: Annotated[
        list[str] | None, typer.Option("--message", "-m", help="Send these messages and exit instead of prompting.")
    ] = None,
) -> None:
    """Chat with an agent of a running server, streaming answers and printing citations."""
    from agentkeel.cli.chat import run_chat

    code = run_chat(console, url=url, api_key=api_key, agent=agent, messages=message)
    raise typer.Exit(code)


@traces_app.command("tail")
def traces_tail(
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", "-f", help="Keep polling for new traces.")] = True,
    interval: Annotated[float, typer.Option(help="Seconds between polls.", min=0.2)] = 1.0,
    limit: Annotated[int, typer.Option(help="Traces to show at start.", min=1, max=500)] = 20,
) -> None:
    """Print traces as they are written, newest last, with their spans."""
    from agentkeel.cli.chat import tail_traces

    raise typer.Exit(tail_traces(console, url=url, api_key=api_key, follow=follow, interval=interval, limit=limit))


def main() -> None:
    logging.captureWarnings(True)
    app()
