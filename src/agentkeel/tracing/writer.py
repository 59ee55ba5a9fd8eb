"""A background task that writes finished traces in batches, off the request path."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from agentkeel.store import schema
from agentkeel.tracing.records import TraceRecord

logger = logging.getLogger(__name__)


class TraceWriter:
    """Queue finished traces and insert them in batches of up to `batch_size`.

    `submit` never blocks a turn, so when the queue is full the trace is dropped and counted in
    `dropped`. `stop` writes everything still queued, so a graceful shutdown loses no queued trace.
    """

    def __init__(
        self, engine: AsyncEngine, *, batch_size: int = 200, flush_interval_s: float = 0.5, queue_max: int = 50_000
    ) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._queue: asyncio.Queue[TraceRecord] = asyncio.Queue(maxsize=queue_max)
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.written = 0
        self.dropped = 0
        self.failed = 0

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="keel-trace-writer")

    def submit(self, record: TraceRecord) -> None:
        try:
            self._queue.put_nowait(record)
            self._idle.clear()
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.error("trace queue full (%d); dropped %d traces so far", self._queue.maxsize, self.dropped)

    async def flush(self) -> None:
        """Wait until everything submitted so far has been written (or has failed and been logged)."""
        if self._task is None:
            await self._drain()
            return
        while not self._queue.empty() or not self._idle.is_set():  # noqa: ASYNC110 - two conditions
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self._drain()
        logger.info("trace writer stopped: written=%d dropped=%d failed=%d", self.written, self.dropped, self.failed)

    async def _drain(self) -> None:
        while not self._queue.empty():
            await self._write(self._take_batch())
        self._idle.set()

    def _take_batch(self) -> list[TraceRecord]:
        batch: list[TraceRecord] = []
        while len(batch) < self._batch_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            batch: list[TraceRecord] = []
            try:
                batch.append(await self._queue.get())
                self._idle.clear()
                deadline = time.monotonic() + self._flush_interval_s
                while len(batch) < self._batch_size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                    except TimeoutError:
                        break
            except asyncio.CancelledError:
                # Stopping while a batch was being gathered: those traces are already off the queue,
                # so write them here or they are lost.
                await self._write(batch)
                raise
            await asyncio.shield(self._write(batch))
            if self._queue.empty():
                self._idle.set()

    async def _write(self, batch: list[TraceRecord]) -> None:
        if not batch:
            return
        started = time.perf_counter()
        try:
            await self._insert(batch)
        except IntegrityError:
            # The foreign key rejects a trace whose session was deleted while it was queued. Write
            # the batch one by one instead, so one late trace does not sink the others.
            for record in batch:
                try:
                    await self._insert([record])
                except IntegrityError:
                    self.failed += 1
                    logger.info("dropped trace %s: its session was deleted", record.trace.id)
                except SQLAlchemyError:
                    self.failed += 1
                    logger.exception("failed to write trace %s", record.trace.id)
            return
        except SQLAlchemyError:
            self.failed += len(batch)
            logger.exception("failed to write a batch of %d traces", len(batch))
            return
        logger.debug("wrote %d traces in %.1f ms", len(batch), (time.perf_counter() - started) * 1000)

    async def _insert(self, batch: list[TraceRecord]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(insert(schema.traces), [record.trace_row() for record in batch])
            span_rows = [span.row() for record in batch for span in record.spans]
            if span_rows:
                await connection.execute(insert(schema.spans), span_rows)
        self.written += len(batch)
