"""Terminal clients of a running server: `keel chat` and `keel traces tail`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from agentkeel.gateway.http import error_message

TIMEOUT = httpx.Timeout(10.0, read=300.0)


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _error_text(response: httpx.Response) -> str:
    return f"HTTP {response.status_code}: {error_message(response)}"


def _sse_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    event, data_lines = "message", []
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data_lines.append(line[5:].strip())
        elif not line and data_lines:
            yield event, json.loads("\n".join(data_lines))
            event, data_lines = "message", []


def run_chat(console: Console, *, url: str, api_key: str | None, agent: str, messages: list[str] | None) -> int:
    """Open a session and chat; returns the process exit code."""
    try:
        with httpx.Client(base_url=url, headers=_headers(api_key), timeout=TIMEOUT) as client:
            created = client.post("/v1/sessions", json={"agent": agent})
            if created.status_code != 201:
                console.print(f"[red]error:[/red] cannot create a session: {_error_text(created)}")
                return 1
            session_id = created.json()["id"]
            console.print(f"[dim]session {session_id} with agent {agent!r}; Ctrl-D to quit[/dim]", soft_wrap=True)
            scripted = list(messages or [])
            while True:
                if messages is not None:
                    if not scripted:
                        return 0
                    text = scripted.pop(0)
                    console.print(f"[bold cyan]you>[/bold cyan] {text}")
                else:
                    try:
                        text = console.input("[bold cyan]you>[/bold cyan] ")
                    except (EOFError, KeyboardInterrupt):
                        console.print()
                        return 0
                if not text.strip():
                    continue
                if not _send(console, client, session_id, text) and messages is not None:
                    return 1
    except httpx.ConnectError:
        console.print(f"[red]error:[/red] no Keel server at {url}; start one with `keel serve`")
        return 1


def _send(console: Console, client: httpx.Client, session_id: str, text: str) -> bool:
    console.print("[bold green]keel>[/bold green] ", end="")
    with client.stream(
        "POST", f"/v1/sessions/{session_id}/messages", json={"content": text, "stream": True}
    ) as response:
        if response.status_code != 200:
            response.read()
            console.print(f"\n[red]error:[/red] {_error_text(response)}")
            return False
        for event, data in _sse_events(response):
            if event == "message.delta":
                console.print(data["text"], end="", markup=False, highlight=False, soft_wrap=True)
            elif event == "error":
                console.print(f"\n[red]error:[/red] {data['error']['message']}")
                return False
            elif event == "turn.completed":
                console.print()
                _print_citations(console, data.get("message", {}).get("citations", []))
                usage = data.get("usage", {})
                console.print(
                    f"  [dim]{data.get('model')} · {usage.get('input_tokens')} in / {usage.get('output_tokens')} out"
                    f" · {data.get('latency_ms', 0) / 1000:.1f} s[/dim]"
                )
                console.print(f"  [dim]trace {data.get('trace_id')}[/dim]")
    return True


def _print_citations(console: Console, citations: list[dict[str, Any]]) -> None:
    """Print one line per cited section; chunks of the same section share a line, e.g. [1, 2]."""
    sections: dict[tuple[str, str], list[int]] = {}
    for citation in citations:
        sections.setdefault((citation["heading"], citation["source"]), []).append(citation["number"])
    for (heading, source), numbers in sections.items():
        console.print(f"  [dim]{numbers} {heading} — {source}[/dim]", markup=True, highlight=False)


def tail_traces(console: Console, *, url: str, api_key: str | None, follow: bool, interval: float, limit: int) -> int:
    """Poll `/v1/traces` and print each trace once. Returns the exit code."""
    seen: set[str] = set()
    cursor: str | None = None
    try:
        with httpx.Client(base_url=url, headers=_headers(api_key), timeout=TIMEOUT) as client:
            while True:
                params: dict[str, Any] = {"limit": limit if cursor is None else 500}
                if cursor is not None:
                    params["after"] = cursor
                response = client.get("/v1/traces", params=params)
                if response.status_code != 200:
                    console.print(f"[red]error:[/red] {_error_text(response)}")
                    return 1
                for trace in response.json()["data"]:
                    if trace["id"] in seen:
                        continue
                    seen.add(trace["id"])
                    _print_trace(console, client, trace)
                    cursor = trace["started_at"]
                if not follow:
                    return 0
                time.sleep(interval)
    except httpx.ConnectError:
        console.print(f"[red]error:[/red] no Keel server at {url}")
        return 1
    except KeyboardInterrupt:
        return 0


def _print_trace(console: Console, client: httpx.Client, trace: dict[str, Any]) -> None:
    detail = client.get(f"/v1/traces/{trace['id']}")
    spans = detail.json().get("spans", []) if detail.status_code == 200 else []
    table = Table(
        title=f"{trace['started_at']}  {trace['name']}  {trace['status']}  {trace['id']}", title_justify="left"
    )
    for column in ("span", "kind", "status", "ms", "model", "tokens in/out", "cost USD"):
        table.add_column(column)
    for span in spans:
        table.add_row(
            span["name"],
            span["kind"],
            span["status"],
            f"{span['duration_ms']:.1f}",
            span.get("model") or "",
            f"{span['input_tokens']}/{span['output_tokens']}",
            str(span["cost_usd"]),
        )
    console.print(table)
