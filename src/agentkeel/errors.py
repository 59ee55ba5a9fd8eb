"""The root of Keel's exception hierarchy.

Every package raises subclasses of `KeelError`. The API maps them to HTTP responses by their
`status_code`, so a caller always gets the failing field, the limit and the fix instead of a 500.

    KeelError
    ├── InvalidInputError        (422) a value breaks a documented limit
    ├── NotFoundError            (404) a tenant-scoped object does not exist
    ├── ConflictError            (409) the request collides with state, e.g. a busy session
    ├── AuthenticationError      (401) missing or unknown API key
    ├── ConfigurationError       (500 at start only) invalid settings or keel.yaml
    └── UpstreamError            (502/504) a provider or tool failed
"""

from __future__ import annotations

from typing import Any


class KeelError(Exception):
    """Base class: a message a user can act on, plus machine-readable details."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class InvalidInputError(KeelError):
    status_code = 422
    code = "invalid_input"


class NotFoundError(KeelError):
    status_code = 404
    code = "not_found"


class ConflictError(KeelError):
    status_code = 409
    code = "conflict"


class AuthenticationError(KeelError):
    status_code = 401
    code = "unauthenticated"


class ConfigurationError(KeelError):
    status_code = 500
    code = "configuration_error"


class UpstreamError(KeelError):
    status_code = 502
    code = "upstream_error"


class UpstreamTimeoutError(UpstreamError):
    status_code = 504
    code = "upstream_timeout"
