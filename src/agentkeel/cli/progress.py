"""A Rich progress display for ingestion."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RichIngestProgress:
    """Implements `agentkeel.knowledge.IngestProgress`: files done, chunks embedded, chunks per second."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.files = self.progress.add_task("files", total=None, detail="")
        self.chunks = self.progress.add_task("chunks embedded", total=None, detail="")
        self.embedded = 0
        self.started = time.perf_counter()

    def __enter__(self) -> RichIngestProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_file_start(self, total_files: int) -> None:
        self.progress.update(self.files, total=total_files)

    def on_file_done(self, source: str, chunks: int) -> None:
        name = source if len(source) <= 40 else "…" + source[-39:]
        self.progress.update(self.files, advance=1, detail=name)

    def on_chunks_embedded(self, n: int) -> None:
        self.embedded += n
        rate = self.embedded / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.chunks, completed=self.embedded, detail=f"{rate:,.0f} chunks/s")
