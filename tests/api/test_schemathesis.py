"""Generated requests from the OpenAPI spec: no input may produce a 5xx.

The operations are driven with Hypothesis directly because schemathesis' pytest fixture loader does
not work with pytest 9 (it reads a removed `Function._nodeid`).
"""

from __future__ import annotations

from typing import Any

import pytest_asyncio
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from agentkeel.security import create_api_key
from agentkeel.store import Database
from tests.api.conftest import KeelServer


@pytest_asyncio.fixture
async def auth_header(database: Database) -> dict[str, str]:
    _, key = await create_api_key(database.engine, "schemathesis")
    return {"Authorization": f"Bearer {key}"}


def test_no_server_errors(keel_server: KeelServer, auth_header: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(f"{keel_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Any) -> None:
            case.call_and_validate(base_url=keel_server.url, headers=auth_header, checks=[not_a_server_error])

        call()
