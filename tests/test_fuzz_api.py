"""Schemathesis against the OpenAPI schema of every route: thousands of generated requests,
zero server errors. The budget is bounded so it fits in CI: 300 examples per operation (~5000
requests, ~20 s on a quiet 2-core machine), and its own timeout, since every operation runs
inside this one test and a busy CI machine has taken more than the suite's 120 s for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema

from tessera import Tessera, create_app
from tests.conftest import make_settings
from tests.live import run_async


@pytest.fixture
def api_schema(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BaseSchema]:
    """The schema of a service of this test's own, read from its app."""
    # schemathesis' lazy loader renames the test node after each operation through the node's
    # `_nodeid`, which pytest 9.2 no longer has: give it one to rename.
    request.node._nodeid = request.node.nodeid
    service = Tessera(
        make_settings(
            tmp_path / "d",
            revocation_max_wait=0.01,  # generated long-polls must not each hold for seconds
        )
    )
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(service))
    run_async(service.close())


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.timeout(600)
@schema.parametrize()
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
