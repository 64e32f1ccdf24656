"""Schemathesis against the OpenAPI schema of every route: thousands of generated requests,
zero server errors. The budget is bounded so it fits in CI."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tessera import Tessera, create_app
from tests.conftest import make_settings

SERVICE = Tessera(
    make_settings(
        Path(tempfile.mkdtemp(prefix="tessera-fuzz-")) / "d",
        revocation_max_wait=0.01,  # generated long-polls must not each hold for seconds
    )
)
APP = create_app(SERVICE)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
