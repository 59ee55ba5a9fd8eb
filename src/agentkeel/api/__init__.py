"""The HTTP API: native session endpoints, OpenAI-compatible endpoints, traces and health."""

from agentkeel.api.app import create_app

__all__ = ["create_app"]
