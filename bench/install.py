"""What a service that only verifies tokens pays for Tessera: the size of `pip install tessera`
(a wheel of this tree, into a fresh virtual environment) next to PyJWT with httpx, and the
time to `import tessera.verify` next to `import jwt, httpx`, in fresh interpreters, interleaved
in the same run. Goals: install <= 30 MB, import <= 1.5 x PyJWT's."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 30.0
TARGET_IMPORT_RATIO = 1.5
ROUNDS = 11
TIMED_IMPORT = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"


def _run(*command: str | Path) -> str:
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, check=True, timeout=600
    )
    return done.stdout


def _site_bytes(venv: Path) -> int:
    (site,) = venv.glob("lib/python*/site-packages")
    return sum(f.stat().st_size for f in site.rglob("*") if f.is_file())


def _venv_with(where: Path, name: str, *requirements: str | Path) -> tuple[Path, int]:
    """A fresh virtual environment with `requirements`; and the bytes they added."""
    venv = where / name
    _run(sys.executable, "-m", "venv", venv)
    before = _site_bytes(venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", *requirements)
    return venv / "bin" / "python", _site_bytes(venv) - before


def _import_seconds(python: Path, modules: str) -> float:
    return float(_run(python, "-c", TIMED_IMPORT.format(modules)).strip())


def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tessera-install-") as tmp:
        where = Path(tmp)
        _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", where, ROOT)
        (wheel,) = where.glob("tessera-*.whl")
        tessera, tessera_bytes = _venv_with(where, "tessera", wheel)
        pyjwt, pyjwt_bytes = _venv_with(where, "pyjwt", "pyjwt[crypto]", "httpx")
        samples: dict[str, list[float]] = {"tessera.verify": [], "jwt, httpx": []}
        for _ in range(ROUNDS):  # interleaved: a noisy moment lands on both
            samples["tessera.verify"].append(_import_seconds(tessera, "tessera.verify"))
            samples["jwt, httpx"].append(_import_seconds(pyjwt, "jwt, httpx"))
        distributions = len(_run(tessera, "-m", "pip", "list", "--format=freeze").splitlines())
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    return {
        "tessera_mb": tessera_bytes / 1e6,
        "pyjwt_httpx_mb": pyjwt_bytes / 1e6,
        "tessera_distributions": distributions,
        "import_ms": medians,
        "import_ratio": medians["tessera.verify"] / medians["jwt, httpx"],
    }


def run() -> dict[str, Any]:
    try:
        result = measure()
    except (subprocess.SubprocessError, ValueError) as exc:  # no index reachable, no wheel
        return {"error": str(exc), "markdown": f"## Light install\n\n- skipped: {exc}"}
    ms = result["import_ms"]
    result["markdown"] = (
        "## Light install (`pip install tessera`, a wheel of this tree, fresh venv)\n\n"
        f"- installed size {result['tessera_mb']:.1f} MB in {result['tessera_distributions']} "
        f"distributions, vs PyJWT[crypto] + httpx {result['pyjwt_httpx_mb']:.1f} MB "
        f"(target <= {TARGET_MB:g} MB: "
        f"{'pass' if result['tessera_mb'] <= TARGET_MB else 'FAIL'})\n"
        f"- `import tessera.verify` {ms['tessera.verify']:.0f} ms vs `import jwt, httpx` "
        f"{ms['jwt, httpx']:.0f} ms (median of {ROUNDS}, interleaved): "
        f"{result['import_ratio']:.2f} x (target <= {TARGET_IMPORT_RATIO:g}: "
        f"{'pass' if result['import_ratio'] <= TARGET_IMPORT_RATIO else 'FAIL'})"
    )
    return result


if __name__ == "__main__":
    print(run()["markdown"])
