"""Helpers shared by the benchmarks: machine facts, percentiles, loopback ports and the results page."""

from __future__ import annotations

import os
import platform
import re
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
RESULTS_PAGE = REPOSITORY_ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Machine:
    """The host a benchmark ran on, as written next to its figures."""

    cpus: int
    cpu_model: str
    ram_gib: float
    python: str
    load_average: tuple[float, float, float]
    date: str

    def markdown(self) -> str:
        load_1, load_5, load_15 = self.load_average
        return (
            f"- Machine: {self.cpus} CPUs (`nproc`), {self.cpu_model}, {self.ram_gib:.0f} GiB RAM, "
            f"Python {self.python}, {platform.system()} {platform.release()}\n"
            f"- Date: {self.date}\n"
            f"- Load average when the run started (1, 5, 15 min): {load_1:.2f}, {load_5:.2f}, {load_15:.2f}. "
            "The CPUs are shared with other work, which may have been running during the benchmark."
        )


def describe_machine() -> Machine:
    cpu_model = "unknown CPU"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    if match:
        cpu_model = match.group(1).strip()
    return Machine(
        cpus=len(os.sched_getaffinity(0)),
        cpu_model=cpu_model,
        ram_gib=psutil.virtual_memory().total / 2**30,
        python=platform.python_version(),
        load_average=os.getloadavg(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def percentiles_ms(values_s: Sequence[float]) -> tuple[float, float, float]:
    """Return p50, p95 and p99 in milliseconds of durations given in seconds (linear interpolation)."""
    if not values_s:
        return (float("nan"),) * 3
    p50, p95, p99 = np.percentile(np.asarray(values_s) * 1000.0, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float, process: psutil.Popen | None = None) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:`port`; raise TimeoutError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.args!r} exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout_s:g} s")


def command_line() -> str:
    """Return how this benchmark was started, as a command a reader can paste."""
    module = Path(sys.argv[0]).resolve()
    if module.is_relative_to(REPOSITORY_ROOT):
        name = ".".join(module.relative_to(REPOSITORY_ROOT).with_suffix("").parts)
        return " ".join([".venv/bin/python -m", name, *sys.argv[1:]])
    return " ".join(sys.argv)


def write_section(name: str, markdown: str, page: Path = RESULTS_PAGE) -> None:
    """Replace the part of `page` between the `name` start and end markers, or append it.

    Text outside the markers (analysis written by hand) stays as it is.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    text = page.read_text() if page.exists() else "# Benchmarks\n"
    if start in text and end in text:
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text)


def verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"
