"""Make files read-only for a test, as the kernel enforces it even for root: root ignores mode
bits, so there the files are made immutable (`chattr +i`, as an operator or a failing disk
might leave them) and a filesystem without that flag skips the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """`paths` (files or directories) refuse writes inside the block; restored after it."""
    modes = {path: path.stat().st_mode & 0o7777 for path in paths}
    immutable: list[Path] = []
    try:
        for path in paths:
            path.chmod(modes[path] & ~0o222)
            if os.access(path, os.W_OK):  # root: mode bits do not bind it
                chattr = shutil.which("chattr")
                if chattr is None:
                    pytest.skip("root ignores file modes, and chattr is not installed")
                done = subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False)
                if done.returncode != 0:
                    pytest.skip(f"cannot make {path} immutable: {done.stderr.decode().strip()}")
                immutable.append(path)
            assert not os.access(path, os.W_OK), f"{path} is still writable"
        yield
    finally:
        for path in immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        for path, mode in modes.items():
            path.chmod(mode)
