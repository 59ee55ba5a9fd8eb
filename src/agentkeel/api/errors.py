"""Map every failure to a JSON error body with a 4xx or 5xx status; input alone never yields a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentkeel.api.limits import BodyTooLargeError, too_large_body
from agentkeel.errors import KeelError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}}


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KeelError)
    async def keel_error(request: Request, exc: KeelError) -> JSONResponse:
        if exc.status_code >= 500:
            logger.warning("request failed", extra={"path": request.url.path, "code": exc.code, "error": exc.message})
        headers = {}
        retry_after = exc.details.get("retry_after_s")
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return JSONResponse(
            error_body(exc.code, exc.message, field=exc.field, details=exc.details or None),
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            if error.get("type") == "json_invalid":
                # The location is ("body", <character offset>), not a field.
                position = error.get("loc", ("body", "?"))[-1]
                reason = (error.get("ctx") or {}).get("error", "invalid JSON")
                problems.append(
                    {"field": "body", "message": f"the body is not valid JSON: {reason} at character {position}"}
                )
                continue
            item: dict[str, Any] = {"field": _location(tuple(error.get("loc", ()))), "message": error.get("msg")}
            ctx = error.get("ctx") or {}
            for key in ("max_length", "min_length", "le", "ge", "lt", "gt", "limit_value"):
                if key in ctx:
                    item["limit"] = {key: ctx[key]}
            problems.append(item)
        first = problems[0] if problems else {"field": "body", "message": "invalid request"}
        message = f"Invalid request: {first['field']}: {first['message']}"
        return JSONResponse(
            error_body("invalid_request", message, field=first["field"], problems=problems), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BodyTooLargeError):
            return JSONResponse(too_large_body(exc.__cause__.max_bytes), status_code=413)
        code = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse(
            error_body("internal_error", "Keel failed to handle this request; the error is in the server log."),
            status_code=500,
        )
