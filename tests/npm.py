"""npm packages for the interop tests: installed once from the npm registry into `.cache/`
(git-ignored), with the test's script copied beside them (ES modules resolve packages from the
importing file's directory, not NODE_PATH). Without node or npm the test is skipped, except
under CI=true, where that is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CACHE = Path(__file__).resolve().parent.parent / ".cache"
INSTALL_TIMEOUT = 300


def unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (required in CI)")
    pytest.skip(why)


def npm_package(spec: str, script: Path | None = None) -> Path:
    """The directory holding `spec` (`name@version`) in node_modules, and `script` (if any)
    beside it."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable(f"node and npm are needed for the {spec} interop test")
    directory = CACHE / spec.replace("@", "-")
    name = spec.rsplit("@", 1)[0]
    if not (directory / "node_modules" / name / "package.json").exists():
        directory.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm or "npm", "install", "--prefix", str(directory), "--no-audit", "--no-fund",
             "--loglevel=error", spec],
            capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            unavailable(f"npm install {spec} failed: {result.stderr.strip()[-500:]}")
    if script is not None:
        shutil.copy(script, directory / script.name)
    return directory
