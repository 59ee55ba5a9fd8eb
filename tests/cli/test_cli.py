"""The `keel` command line, run in-process against the test database and the fake provider."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentkeel.cli import app
from agentkeel.config.settings import get_settings
from agentkeel.store import Database
from tests.fakes.openai_server import FakeOpenAI, ServerThread


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    thread = ServerThread(FakeOpenAI().app()).start()
    yield f"{thread.url}/v1"
    thread.stop()


@pytest.fixture
def cli_env(database: Database, fake_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = {
        "agents": [{"name": "a", "system_prompt": "{{ context }}", "knowledge_base": "docs"}],
        "knowledge_bases": [
            {
                "name": "docs",
                "embedder": {"provider": "openai_compatible", "model": "fake-embed", "base_url": fake_url},
            }
        ],
    }
    (tmp_path / "keel.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KEEL_DATABASE_URL", database.url)
    monkeypatch.setenv("KEEL_CONFIG_FILE", str(tmp_path / "keel.yaml"))
    monkeypatch.setenv("KEEL_OPENAI_API_KEY", "sk-test")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_keys_create_prints_key_once(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--tenant", "cli-tenant"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^keel_[a-z0-9]{12}_[A-Za-z0-9_-]{20,}$", result.stdout, re.MULTILINE)


def test_keys_create_rejects_bad_tenant(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--tenant", "no spaces allowed"])
    assert result.exit_code == 1
    assert "Invalid tenant id" in result.output


def test_ingest_skips_unparsable_file(cli_env: Path) -> None:
    docs = cli_env / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Returns\n\nItems can be returned within 30 days.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    result = CliRunner().invoke(app, ["ingest", str(docs), "--kb", "docs", "--tenant", "cli-ingest"])
    assert result.exit_code == 1, result.output
    assert "added: 1" in result.stdout
    assert "failed: 1" in result.stdout
    assert "broken.pdf" in result.output

    again = CliRunner().invoke(app, ["ingest", str(docs), "--kb", "docs", "--tenant", "cli-ingest"])
    assert "unchanged: 1" in again.stdout

    (docs / "good.md").unlink()
    (docs / "broken.pdf").unlink()
    removed = CliRunner().invoke(
        app, ["ingest", str(docs), "--kb", "docs", "--tenant", "cli-ingest", "--delete-missing"]
    )
    assert removed.exit_code == 0, removed.output
    assert "deleted" in removed.stdout
    assert "good.md" in removed.stdout


def test_ingest_unknown_knowledge_base(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(cli_env), "--kb", "nope"])
    assert result.exit_code == 2
    assert "knowledge base 'nope' is not in keel.yaml" in result.output


def test_chat_without_server(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["chat", "--url", "http://127.0.0.1:9", "-m", "hi"])
    assert result.exit_code == 1
    assert "no Keel server at http://127.0.0.1:9" in result.output


def test_chat_groups_citations_by_section() -> None:
    from rich.console import Console

    from agentkeel.cli.chat import _print_citations

    console = Console(record=True, width=200)
    _print_citations(
        console,
        [
            {"number": 1, "heading": "Return", "source": "python-reference:return"},
            {"number": 2, "heading": "Return", "source": "python-reference:return"},
            {"number": 3, "heading": "Yield", "source": "python-reference:yield"},
        ],
    )
    lines = console.export_text().splitlines()
    assert lines == ["  [1, 2] Return — python-reference:return", "  [3] Yield — python-reference:yield"]
