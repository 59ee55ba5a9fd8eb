"""Deployment settings read from `KEEL_*` environment variables (and an optional `.env`)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentkeel.errors import ConfigurationError


class Settings(BaseSettings):
    """Deployment settings: the data directory, the database, the model provider and the API binding.

    Every field maps to `KEEL_<NAME>`; for example `data_dir` is `KEEL_DATA_DIR`.
    """

    model_config = SettingsConfigDict(env_prefix="KEEL_", env_file=".env", extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    data_dir: Path = Path(".keel")
    database_url: str | None = Field(
        default=None,
        description="External Postgres with pgvector. Unset: start the embedded server under data_dir.",
    )
    config_file: Path = Field(default=Path("keel.yaml"), description="Agent definitions.")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    require_api_keys: bool | None = Field(
        default=None, description="Unset: required in prod, optional in dev on a loopback host."
    )

    max_request_bytes: int = Field(default=1_048_576, ge=1024, le=1_073_741_824, description="Largest request body.")

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None

    log_format: Literal["console", "json"] | None = None
    log_level: str = "INFO"

    trace_batch_size: int = Field(default=200, ge=1, le=10_000)
    trace_flush_interval_s: float = Field(default=0.5, gt=0, le=60)
    trace_queue_max: int = Field(default=50_000, ge=100)

    local_model_threads: int | None = Field(default=None, ge=1, le=256)
    local_model_context: int = Field(default=4096, ge=512, le=32768)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def host_is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def api_keys_required(self) -> bool:
        if self.require_api_keys is not None:
            return self.require_api_keys
        return self.env == "prod" or not self.host_is_loopback

    def check_startable(self) -> None:
        """Raise `ConfigurationError` for combinations that must not serve traffic."""
        if self.env == "prod" and self.require_api_keys is False:
            raise ConfigurationError(
                "KEEL_REQUIRE_API_KEYS=false is not allowed with KEEL_ENV=prod: "
                "production always authenticates requests. Unset KEEL_REQUIRE_API_KEYS.",
                field="require_api_keys",
            )

    @property
    def resolved_log_format(self) -> str:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.env == "prod" else "console"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load settings once per process; raises `ConfigurationError` naming each invalid variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "KEEL_" + "_".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{name}={error.get('input')!r}: {error['msg']}")
        raise ConfigurationError("Invalid settings: " + "; ".join(problems)) from exc
