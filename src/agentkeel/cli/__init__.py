"""The `keel` command line (Typer + Rich)."""

from agentkeel.cli.main import app, main

__all__ = ["app", "main"]
