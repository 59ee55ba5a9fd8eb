"""Turn latency and throughput of a real `keel serve` process against a fake provider with a fixed delay.

Usage: python -m benchmarks.turns [--sessions 1,16,64] [--seconds 20] [--retrieval both|pre|off]

Three processes run on loopback: the fake OpenAI API (`benchmarks.fake_provider`, its own process),
`keel serve` with KEEL_ENV=prod (uvicorn with uvloop and httptools, JSON logs, API keys), and this
load generator (httpx.AsyncClient). The embedded PostgreSQL runs under a temporary data directory.

Each concurrent session is one task that runs conversations of `--turns-per-session` turns: it
posts turns to its own session one after another, then opens a new session. A level warms up for
`--warmup-s`, then measures for `--seconds`.

Keel's overhead of a turn is the time the client observed minus the summed duration of the turn's
`llm` spans, read from the `spans` table after the run. The `llm` span covers the provider call as
Keel's OpenAI client sees it: the request, the fake's delay and the streamed reply. The overhead is
everything else, such as HTTP, auth, session and turn rows, retrieval, prompt building, storing the
answer and the client's own time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from agentkeel import knowledge
from agentkeel.config import parse_config
from agentkeel.security import create_api_key, ensure_tenant
from agentkeel.store import Database, open_database
from benchmarks.common import (
    REPOSITORY_ROOT,
    command_line,
    describe_machine,
    free_port,
    percentiles_ms,
    verdict,
    wait_for_port,
    write_section,
)

TENANT = "bench"
KNOWLEDGE_BASE = "docs"
# Topics of the Python reference ingested into the agents' knowledge base (about 80 chunks).
KNOWLEDGE_TOPICS = 20
OVERHEAD_TARGET_MS = 20.0
OVERHEAD_TARGET_SESSIONS = 16
THROUGHPUT_TARGET = 150.0
THROUGHPUT_TARGET_SESSIONS = 64
QUESTIONS = [
    "How long does a refund take?",
    "What does the with statement do?",
    "How do I catch an exception and raise another one?",
    "Can a for loop have an else clause?",
    "What is the difference between is and ==?",
    "How are default argument values evaluated?",
    "When does a finally clause run?",
    "How do I write a generator function?",
]

console = Console(width=220)


@dataclass
class TurnSample:
    mode: str
    sessions: int
    started: float
    ended: float
    status: int
    trace_id: str | None


@dataclass
class LevelResult:
    mode: str
    sessions: int
    measure_start: float
    measure_end: float
    samples: list[TurnSample]
    peak_rss_bytes: int
    # CPU seconds used during the measured window by "keel", "postgres", "fake", "client", and by every
    # process on the machine ("machine").
    cpu_s: dict[str, float]


@dataclass
class LevelFigures:
    mode: str
    sessions: int
    turns: int
    errors: int
    turns_per_s: float
    total_ms: tuple[float, float, float]
    overhead_ms: tuple[float, float, float]
    overhead_vs_delay_ms: tuple[float, float, float]
    llm_ms: tuple[float, float, float]
    retrieval_ms: tuple[float, float, float]
    missing_spans: int
    peak_rss_mib: float
    keel_cpu_ms_per_turn: float
    cpu_percent: dict[str, float] = field(default_factory=dict)


class ProcessSampler:
    """Sample the RSS of the Keel processes every 100 ms in a thread, and CPU times on demand."""

    def __init__(self, keel: psutil.Process, fake: psutil.Process, postmaster_pid: int | None) -> None:
        self.keel = keel
        self.fake = fake
        self.postmaster_pid = postmaster_pid
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def keel_processes(self) -> list[psutil.Process]:
        """Return the `keel serve` process and, with --workers, its uvicorn worker processes."""
        try:
            return [self.keel, *self.keel.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def keel_rss(self) -> int:
        total = 0
        for process in self.keel_processes():
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def reset_peak(self) -> None:
        self.peak_rss = self.keel_rss()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak_rss = max(self.peak_rss, self.keel_rss())

    def cpu_seconds(self) -> dict[str, float]:
        """Return CPU seconds (user + system) used so far by each process group and by the whole machine."""
        machine = psutil.cpu_times()
        return {
            "keel": sum(_cpu(process) for process in self.keel_processes()),
            "fake": _cpu(self.fake),
            "postgres": self._postgres_cpu(),
            "client": _cpu(psutil.Process()),
            "machine": machine.user + machine.nice + machine.system + machine.irq + machine.softirq + machine.steal,
        }

    def _postgres_cpu(self) -> float:
        """Return the CPU seconds of the postmaster, its live backends, and the backends it has reaped.

        The engine closes overflow connections when they return to a full pool, so backends exit during
        a run. The kernel adds an exited backend's time to the postmaster's children times once it is reaped.
        """
        if self.postmaster_pid is None:
            return float("nan")
        try:
            postmaster = psutil.Process(self.postmaster_pid)
            reaped = postmaster.cpu_times()
            live = sum(_cpu(child) for child in postmaster.children(recursive=True))
        except psutil.NoSuchProcess:
            return float("nan")
        return _cpu(postmaster) + reaped.children_user + reaped.children_system + live


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure Keel turn latency and throughput against a fake provider.")
    parser.add_argument("--sessions", default="1,16,64", help="Comma-separated concurrent session counts.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Measured seconds per level.")
    parser.add_argument("--warmup-s", type=float, default=4.0, help="Unmeasured seconds before each level.")
    parser.add_argument(
        "--turns-per-session",
        type=int,
        default=10,
        help="Turns in one conversation; each concurrent worker then opens a new session.",
    )
    parser.add_argument(
        "--max-turns", type=int, default=1000, help="Upper bound on turns per worker and level, warm-up included."
    )
    parser.add_argument("--delay-s", type=float, default=0.2, help="Seconds the fake provider waits per reply.")
    parser.add_argument(
        "--retrieval",
        choices=["both", "pre", "off"],
        default="both",
        help="Run the agent with retrieval mode pre (fake embedder), off, or both one after another.",
    )
    parser.add_argument(
        "--py-spy-dir",
        type=Path,
        default=None,
        help="Profile the Keel process with py-spy during each measured window and write raw stacks here.",
    )
    parser.add_argument("--workers", type=int, default=1, help="Worker processes for `keel serve --workers`.")
    parser.add_argument("--no-write", action="store_true", help="Print the table only; leave docs/benchmarks.md alone.")
    return parser.parse_args()


def keel_yaml(fake_url: str) -> dict[str, object]:
    embedder = {"provider": "openai_compatible", "model": "fake-embed", "dimension": 384, "base_url": fake_url}
    model = {"provider": "openai_compatible", "name": "gpt-4o-mini", "base_url": fake_url}
    agents = []
    for mode in ("pre", "off"):
        agents.append(
            {
                "name": f"bench-{mode}",
                "system_prompt": "You are a support agent for a kettle shop. Context:\n{{ context }}",
                "model": model,
                "knowledge_base": KNOWLEDGE_BASE,
                "retrieval": {"mode": mode, "top_k": 4},
            }
        )
    return {"agents": agents, "knowledge_bases": [{"name": KNOWLEDGE_BASE, "embedder": embedder}]}


async def prepare_database(database: Database, config: dict[str, object]) -> str:
    """Create the tenant, its API key and its knowledge base; return the key."""
    await ensure_tenant(database.engine, TENANT)
    _, key = await create_api_key(database.engine, TENANT, name="benchmark")
    kb = parse_config(config, source="benchmark").knowledge_base(KNOWLEDGE_BASE)
    assert kb is not None
    embedder = knowledge.OpenAIEmbedder(kb.embedder)
    report = await knowledge.ingest_python_reference(database.engine, TENANT, kb, embedder, limit=KNOWLEDGE_TOPICS)
    console.print(f"ingested {report.chunks_written} chunks into knowledge base {KNOWLEDGE_BASE!r}")
    return key


def start_process(command: list[str], environment: dict[str, str], log_path: Path) -> psutil.Popen:
    log = log_path.open("wb")
    return psutil.Popen(command, cwd=REPOSITORY_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)


def stop_process(process: psutil.Popen, name: str) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=40)
    except (psutil.TimeoutExpired, subprocess.TimeoutExpired):
        console.print(f"[yellow]{name} did not stop within 40 s of SIGTERM; killing it[/yellow]")
        process.kill()
        process.wait(timeout=10)


def read_postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


async def run_level(
    client: httpx.AsyncClient, sampler: ProcessSampler, mode: str, sessions: int, args: argparse.Namespace
) -> LevelResult:
    samples: list[TurnSample] = []
    loop = asyncio.get_running_loop()
    measure_start = loop.time() + args.warmup_s
    measure_end = measure_start + args.seconds

    async def worker(index: int) -> None:
        """Run conversations of `--turns-per-session` turns, one after another, until the window ends."""
        session_id = ""
        for turn in range(args.max_turns):
            if loop.time() >= measure_end:
                return
            if turn % args.turns_per_session == 0:
                created = await client.post("/v1/sessions", json={"agent": f"bench-{mode}"})
                created.raise_for_status()
                session_id = created.json()["id"]
            question = QUESTIONS[(index + turn) % len(QUESTIONS)]
            started = loop.time()
            response = await client.post(f"/v1/sessions/{session_id}/messages", json={"content": question})
            ended = loop.time()
            trace_id = response.json().get("trace_id") if response.status_code == 200 else None
            samples.append(TurnSample(mode, sessions, started, ended, response.status_code, trace_id))

    workers = [asyncio.create_task(worker(i)) for i in range(sessions)]
    await asyncio.sleep(args.warmup_s)
    sampler.reset_peak()
    cpu_before = sampler.cpu_seconds()
    profiler = start_profiler(args, sampler.keel.pid, f"{mode}-{sessions}")
    await asyncio.sleep(max(0.0, measure_end - loop.time()))
    cpu_after = sampler.cpu_seconds()
    peak_rss = sampler.peak_rss
    await asyncio.gather(*workers)
    if profiler is not None:
        await asyncio.to_thread(profiler.wait, 60)
    used = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
    return LevelResult(
        mode=mode,
        sessions=sessions,
        measure_start=measure_start,
        measure_end=measure_end,
        samples=samples,
        peak_rss_bytes=peak_rss,
        cpu_s=used,
    )


def start_profiler(args: argparse.Namespace, pid: int, name: str) -> subprocess.Popen[bytes] | None:
    """Start py-spy on the Keel process for the measured window when `--py-spy-dir` is set."""
    if args.py_spy_dir is None:
        return None
    args.py_spy_dir.mkdir(parents=True, exist_ok=True)
    output = args.py_spy_dir / f"{name}.txt"
    command = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(args.seconds)),
        "--rate",
        "100",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Sample categories, tested in this order against every frame of a stack: a sample counts once, for the
# first category any of its frames matches, so "openai" includes the JSON and pydantic work it calls.
PROFILE_CATEGORIES = [
    ("OpenAI SDK (request building, stream parsing)", ("openai/",)),
    ("SQLAlchemy + asyncpg", ("sqlalchemy/", "asyncpg/")),
    ("logging (structlog)", ("structlog/", "logging/__init__.py")),
    ("token counting (knowledge.count_tokens)", ("count_tokens",)),
    ("other agentkeel code", ("agentkeel/agent", "agentkeel/sessions", "agentkeel/tracing", "agentkeel/knowledge")),
    ("FastAPI, Starlette, pydantic (request and response)", ("fastapi/", "starlette/", "pydantic")),
    ("uvicorn, httptools, asyncio", ("uvicorn/", "asyncio/", "uvloop")),
]


def profile_breakdown(path: Path) -> list[tuple[str, float]]:
    """Return (category, share of samples in %) for a py-spy raw profile, largest first."""
    counts: dict[str, int] = defaultdict(int)
    total = 0
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        total += int(number)
        category = next(
            (name for name, needles in PROFILE_CATEGORIES if any(needle in stack for needle in needles)), "other"
        )
        counts[category] += int(number)
    return sorted(((name, 100 * count / total) for name, count in counts.items()), key=lambda item: -item[1])


async def read_span_durations(database: Database, trace_ids: list[str], expected: int) -> dict[str, dict[str, float]]:
    """Return {trace_id: {span kind: summed duration in ms}}, waiting up to 30 s for the trace writer."""
    ids = [uuid.UUID(trace_id) for trace_id in trace_ids]
    durations: dict[str, dict[str, float]] = defaultdict(dict)
    deadline = time.monotonic() + 30
    while True:
        async with database.engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT trace_id, kind, sum(duration_ms) AS ms FROM spans "
                    "WHERE trace_id = ANY(:ids) GROUP BY trace_id, kind"
                ),
                {"ids": ids},
            )
            durations.clear()
            for row in rows:
                durations[str(row.trace_id)][row.kind] = float(row.ms)
        with_llm = sum(1 for kinds in durations.values() if "llm" in kinds)
        if with_llm >= expected or time.monotonic() > deadline:
            return durations
        await asyncio.sleep(1)


def summarize(result: LevelResult, spans: dict[str, dict[str, float]], delay_s: float) -> LevelFigures:
    measured = [s for s in result.samples if s.started >= result.measure_start and s.ended <= result.measure_end]
    ok = [s for s in measured if s.status == 200 and s.trace_id is not None]
    totals = [s.ended - s.started for s in ok]
    overheads, llm, retrieval = [], [], []
    missing = 0
    for sample in ok:
        kinds = spans.get(sample.trace_id or "", {})
        if "llm" not in kinds:
            missing += 1
            continue
        llm.append(kinds["llm"] / 1000)
        overheads.append(sample.ended - sample.started - kinds["llm"] / 1000)
        if "retrieval" in kinds:
            retrieval.append(kinds["retrieval"] / 1000)
    window = result.measure_end - result.measure_start
    # Throughput counts every turn that finished inside the window, including those that started before it.
    completed = sum(
        1 for s in result.samples if s.status == 200 and result.measure_start <= s.ended <= result.measure_end
    )
    return LevelFigures(
        mode=result.mode,
        sessions=result.sessions,
        turns=len(ok),
        errors=len(measured) - len(ok),
        turns_per_s=completed / window,
        total_ms=percentiles_ms(totals),
        overhead_ms=percentiles_ms(overheads),
        overhead_vs_delay_ms=percentiles_ms([t - delay_s for t in totals]),
        llm_ms=percentiles_ms(llm),
        retrieval_ms=percentiles_ms(retrieval),
        missing_spans=missing,
        peak_rss_mib=result.peak_rss_bytes / 2**20,
        keel_cpu_ms_per_turn=1000 * result.cpu_s["keel"] / completed if completed else float("nan"),
        cpu_percent=cpu_percent(result.cpu_s, window),
    )


def cpu_percent(cpu_s: dict[str, float], window_s: float) -> dict[str, float]:
    """Return CPU % per process group (100 = one core busy); "other" is every process not in this benchmark."""
    ours = ("keel", "postgres", "fake", "client")
    percent = {name: 100 * cpu_s[name] / window_s for name in ours}
    percent["other"] = max(0.0, 100 * (cpu_s["machine"] - sum(cpu_s[name] for name in ours)) / window_s)
    return percent


def triple(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.1f}" for value in values)


def render(figures: list[LevelFigures]) -> tuple[Table, str]:
    headers = [
        "retrieval",
        "sessions",
        "turns",
        "errors",
        "turns/s",
        "total p50 / p95 / p99 ms",
        "overhead p50 / p95 / p99 ms",
        "total - delay p95 ms",
        "llm span p50 ms",
        "retrieval span p50 / p95 ms",
        "keel CPU ms / turn",
        "CPU % keel / postgres / fake / client / other",
        "keel peak RSS MiB",
    ]
    table = Table(title="Turns against a fake provider")
    for header in headers:
        table.add_column(header, justify="right")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for f in figures:
        retrieval = "-" if f.mode == "off" else f"{f.retrieval_ms[0]:.1f} / {f.retrieval_ms[1]:.1f}"
        cpu = " / ".join(f"{f.cpu_percent[name]:.0f}" for name in ("keel", "postgres", "fake", "client", "other"))
        row = [
            f.mode,
            str(f.sessions),
            str(f.turns),
            str(f.errors),
            f"{f.turns_per_s:.1f}",
            triple(f.total_ms),
            triple(f.overhead_ms),
            f"{f.overhead_vs_delay_ms[1]:.1f}",
            f"{f.llm_ms[0]:.1f}",
            retrieval,
            f"{f.keel_cpu_ms_per_turn:.1f}",
            cpu,
            f"{f.peak_rss_mib:.0f}",
        ]
        table.add_row(*row)
        lines.append("| " + " | ".join(row) + " |")
    return table, "\n".join(lines)


def targets_markdown(figures: list[LevelFigures]) -> str:
    lines = []
    for f in figures:
        if f.sessions == OVERHEAD_TARGET_SESSIONS:
            p95 = f.overhead_ms[1]
            met = p95 <= OVERHEAD_TARGET_MS
            gap = "" if met else f", {p95 - OVERHEAD_TARGET_MS:.1f} ms over"
            lines.append(
                f"- Overhead p95 ≤ {OVERHEAD_TARGET_MS:g} ms at {f.sessions} sessions, retrieval {f.mode}: "
                f"{p95:.1f} ms, {verdict(met)}{gap}."
            )
        if f.sessions == THROUGHPUT_TARGET_SESSIONS:
            met = f.turns_per_s >= THROUGHPUT_TARGET
            gap = "" if met else f", {THROUGHPUT_TARGET - f.turns_per_s:.1f} turns/s short"
            lines.append(
                f"- At least {THROUGHPUT_TARGET:g} turns/s at {f.sessions} sessions, retrieval {f.mode}: "
                f"{f.turns_per_s:.1f} turns/s, {verdict(met)}{gap}."
            )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> list[LevelFigures]:
    machine = describe_machine()
    levels = [int(part) for part in args.sessions.split(",")]
    modes = ["off", "pre"] if args.retrieval == "both" else [args.retrieval]

    with tempfile.TemporaryDirectory(prefix="keel-bench-turns-") as directory:
        data_dir = Path(directory)
        fake_port, keel_port = free_port(), free_port()
        fake_url = f"http://127.0.0.1:{fake_port}/v1"
        environment = {**os.environ, "KEEL_OPENAI_API_KEY": "sk-bench", "HF_HUB_OFFLINE": "1"}
        os.environ["KEEL_OPENAI_API_KEY"] = "sk-bench"

        fake = start_process(
            [
                sys.executable,
                "-m",
                "benchmarks.fake_provider",
                "--port",
                str(fake_port),
                "--delay-s",
                str(args.delay_s),
            ],
            environment,
            data_dir / "fake.log",
        )
        database = await open_database(None, data_dir)
        keel: psutil.Popen | None = None
        try:
            wait_for_port(fake_port, 30, fake)
            config = keel_yaml(fake_url)
            api_key = await prepare_database(database, config)
            config_file = data_dir / "keel.yaml"
            config_file.write_text(json.dumps(config))  # JSON is valid YAML
            keel_environment = {
                **environment,
                "KEEL_ENV": "prod",
                "KEEL_DATABASE_URL": database.url,
                "KEEL_DATA_DIR": str(data_dir),
                "KEEL_CONFIG_FILE": str(config_file),
            }
            keel_command = [
                str(Path(sys.executable).parent / "keel"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(keel_port),
                "--workers",
                str(args.workers),
            ]
            keel = start_process(keel_command, keel_environment, data_dir / "keel.log")
            try:
                wait_for_port(keel_port, 60, keel)
            except (RuntimeError, TimeoutError):
                # The log lives in the temporary directory, which is deleted on the way out.
                console.print("keel serve failed to start; the end of its log:")
                console.print((data_dir / "keel.log").read_text()[-4000:], markup=False, highlight=False)
                raise

            sampler = ProcessSampler(psutil.Process(keel.pid), psutil.Process(fake.pid), read_postmaster_pid(data_dir))
            sampler.start()
            results: list[LevelResult] = []
            limits = httpx.Limits(max_connections=max(levels) + 8, max_keepalive_connections=max(levels) + 8)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{keel_port}",
                headers={"Authorization": f"Bearer {api_key}"},
                timeout=60,
                limits=limits,
            ) as client:
                for mode in modes:
                    for sessions in levels:
                        console.print(
                            f"retrieval {mode}, {sessions} sessions: "
                            f"{args.warmup_s:g} s warm-up, {args.seconds:g} s measured"
                        )
                        results.append(await run_level(client, sampler, mode, sessions, args))
            sampler.stop()

            trace_ids = [s.trace_id for r in results for s in r.samples if s.trace_id]
            spans = await read_span_durations(database, trace_ids, expected=len(trace_ids))
        finally:
            if keel is not None:
                stop_process(keel, "keel serve")
            stop_process(fake, "fake provider")
            await database.close()

    figures = [summarize(result, spans, args.delay_s) for result in results]
    for f in figures:
        if f.missing_spans:
            console.print(
                f"[yellow]{f.missing_spans} turns at {f.sessions} sessions (retrieval {f.mode}) have no llm span "
                "in the spans table 30 s after the run; their overhead is left out.[/yellow]"
            )
    table, markdown_table = render(figures)
    console.print(table)
    targets = targets_markdown(figures)
    console.print(targets)
    if args.py_spy_dir is not None:
        for result in results:
            path = args.py_spy_dir / f"{result.mode}-{result.sessions}.txt"
            if path.exists():
                shares = ", ".join(f"{name} {share:.0f}%" for name, share in profile_breakdown(path))
                console.print(f"py-spy, retrieval {result.mode}, {result.sessions} sessions: {shares}")
    if not args.no_write:
        section = "turns" if args.workers == 1 else f"turns-{args.workers}-workers"
        write_section(section, section_markdown(args, machine.markdown(), markdown_table, targets))
    return figures


def section_markdown(args: argparse.Namespace, machine: str, table: str, targets: str) -> str:
    title = "Turns" if args.workers == 1 else f"Turns, keel serve --workers {args.workers}"
    return f"""## {title}

- Command: `{command_line()}`
{machine}
- Processes: `keel serve` with KEEL_ENV=prod (uvicorn with uvloop and httptools, JSON logs to a file,
  API-key auth). The fake OpenAI API from `tests/fakes/openai_server.py` runs in a third process
  (`benchmarks/fake_provider.py`): it waits {args.delay_s * 1000:g} ms before each reply, then streams a
  58-word answer as SSE. The embedded PostgreSQL 18 + pgvector and the httpx load generator share the
  same {os.cpu_count()} CPUs.
- Load: each of the N concurrent workers runs conversations of {args.turns_per_session} turns. It opens
  a session, posts turns one after another, then opens the next session, so the prompt carries up to
  {args.turns_per_session - 1} earlier exchanges. Each level has {args.warmup_s:g} s of warm-up, then
  {args.seconds:g} s measured.
- Agents: `bench-pre` retrieves 4 chunks before the model call, with the fake embedder over HTTP and a
  knowledge base of {KNOWLEDGE_TOPICS} Python reference topics. `bench-off` does not retrieve.
- Columns: total is the time the client observed per turn. Overhead is total minus the summed `llm`
  span durations of the turn, read from the `spans` table after the run. The span includes the work of
  Keel's OpenAI client, so "total - delay" is an upper bound that charges that work to Keel too. CPU %
  is CPU seconds per wall second in the measured window (100 = one core busy). Peak RSS is sampled
  every 100 ms.

{table}

{targets}
"""


def main() -> None:
    args = parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args))
    else:
        uvloop.run(run(args))


if __name__ == "__main__":
    main()
