"""The one table of cases (tests/inspection_cases.json) against Python's examination, the one
behind `tessera decode`. tests/js/inspect.test.mjs runs the same table against the decoder
page's (web/static/inspect.js), so the two say the same things about the same tokens."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tessera.inspect import examine

CASES_FILE = Path(__file__).with_name("inspection_cases.json")
SCRIPT = Path(__file__).parent.parent / "scripts" / "inspection_cases.py"
TABLE: dict[str, Any] = json.loads(CASES_FILE.read_text())


def test_the_table_is_what_its_script_writes() -> None:
    """The cases are edited in scripts/inspection_cases.py; the JSON file is its output."""
    spec = importlib.util.spec_from_file_location("inspection_cases", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.build() == TABLE, "run: python scripts/inspection_cases.py"


def test_the_table_covers_every_status() -> None:
    statuses = {(case.get("kind", "token"), case["status"]) for case in TABLE["cases"]}
    tokens = {"valid", "expired", "not_yet_valid", "no_expiry", "malformed"}
    proofs = {"fresh", "stale", "not_yet_valid", "malformed"}
    assert statuses == {("token", s) for s in tokens} | {("dpop_proof", s) for s in proofs}


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["name"] for c in TABLE["cases"]])
def test_case(case: dict[str, Any]) -> None:
    report = examine(case["token"], now=TABLE["now"], leeway=case.get("leeway", 0))
    assert report.status == case["status"]
    assert report.warnings == case["warnings"]
    if case["error"] is None:
        assert report.error is None
    else:
        assert report.error is not None and report.error.startswith(case["error"]), report.error
    if "times" in case:
        shown = {
            name: {"utc": claim.utc, "relative": claim.relative}
            for name, claim in report.times.items()
        }
        assert shown == case["times"]
    if "lifetime" in case:
        assert report.lifetime == case["lifetime"]
    assert report.kind == case.get("kind", "token")
    assert report.bound_to == case.get("bound_to")
    if "proof" in case:
        assert report.proof is not None
        shown = report.proof.as_json()
        assert {name: shown[name] for name in case["proof"]} == case["proof"]
