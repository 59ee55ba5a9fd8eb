"""Settings and keel.yaml validation: invalid values fail at start with their path and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkeel.config import Settings, load_config, parse_config
from agentkeel.errors import ConfigurationError


def minimal(**agent: object) -> dict[str, object]:
    return {"agents": [{"name": "a", "system_prompt": "Hi {{ context }}", **agent}]}


def test_default_config_loads_when_file_missing(tmp_path: Path) -> None:
    config = load_config(tmp_path / "absent.yaml")
    assert config.agent("assistant") is not None
    assert config.knowledge_base("default") is not None


@pytest.mark.parametrize(
    ("agent", "path"),
    [
        ({"limits": {"max_steps": 0}}, "agents[0].limits.max_steps"),
        ({"model": {"temperature": 5}}, "agents[0].model.temperature"),
        ({"knowledge_base": "nope"}, "(root)"),
        ({"system_prompt": "{{ secret }}"}, "agents[0].system_prompt"),
        ({"retrieval": {"mode": "sometimes"}}, "agents[0].retrieval.mode"),
        ({"tools": [{"name": "t", "description": "d", "url": "not a url"}]}, "agents[0].tools[0].url"),
        ({"colour": "blue"}, "agents[0].colour"),
    ],
)
def test_invalid_agent_names_path(agent: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_config(minimal(**agent), source="keel.yaml")
    assert path in raised.value.message
    assert "keel.yaml" in raised.value.message


def test_unknown_knowledge_base_lists_declared() -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_config(minimal(knowledge_base="nope"), source="keel.yaml")
    assert "declared: ['default']" in raised.value.message


def test_overlap_must_be_below_size() -> None:
    data = {**minimal(), "knowledge_bases": [{"name": "default", "chunk_tokens": 50, "chunk_overlap": 50}]}
    with pytest.raises(ConfigurationError) as raised:
        parse_config(data, source="keel.yaml")
    assert "chunk_overlap (50) must be smaller than chunk_tokens (50)" in raised.value.message


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "keel.yaml"
    path.write_text("agents: [unclosed")
    with pytest.raises(ConfigurationError) as raised:
        load_config(path)
    assert "not valid YAML" in raised.value.message


def test_config_hash_tracks_changes() -> None:
    first = parse_config(minimal(), source="x").agents[0]
    same = parse_config(minimal(), source="x").agents[0]
    changed = parse_config(minimal(limits={"max_steps": 2}), source="x").agents[0]
    assert first.config_hash() == same.config_hash()
    assert first.config_hash() != changed.config_hash()


def test_api_keys_required_rules() -> None:
    assert Settings(env="dev", host="127.0.0.1").api_keys_required is False
    assert Settings(env="dev", host="0.0.0.0").api_keys_required is True
    assert Settings(env="prod", host="127.0.0.1").api_keys_required is True
    with pytest.raises(ConfigurationError) as raised:
        Settings(env="prod", require_api_keys=False).check_startable()
    assert raised.value.field == "require_api_keys"


def test_invalid_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentkeel.config.settings import get_settings

    monkeypatch.setenv("KEEL_PORT", "eighty")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError) as raised:
            get_settings()
        assert "KEEL_PORT='eighty'" in raised.value.message
    finally:
        get_settings.cache_clear()


def test_one_error_line_per_invalid_field() -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_config(minimal(limits={"max_steps": 0}), source="keel.yaml")
    assert "agents[0].limits.max_steps" in raised.value.message
    assert "at least 1 item" not in raised.value.message
