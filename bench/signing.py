"""The signing floor: what one signature costs, in CPU time, on the core the server runs on.

A refresh signs one access token, so no server can refresh faster than its signing primitive
allows; `bench.compare` divides the server's CPU time per refresh by this cost, both measured
on the same core in the same run (a ratio that does not move with the machine's speed).

The primitive as the `cryptography` package runs it (RSA-2048 PKCS#1 v1.5, P-256 ECDSA and
Ed25519, each over SHA-256 where it applies) on a typical access token's signing input, timed
with `time.process_time()` (this process's CPU, not the wall clock: other work on the machine
does not inflate it): the median of `BATCHES` batches, in microseconds.

`python -m bench.signing [CPU]` prints `{"RS256": µs, "ES256": µs, "EdDSA": µs}` as JSON;
`floor(cpu)` runs it pinned to `cpu` in a fresh process.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from bench.systems import ROOT

BATCHES = 7
# A header and claims the size of Tessera's access tokens (~330 bytes of signing input).
SIGNING_INPUT = b"eyJhbGciOiJSUzI1NiIsImtpZCI6Ij" + b"x" * 300


def _signers() -> dict[str, tuple[Callable[[], object], int]]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return {  # (one signature, signatures per batch: ~20 ms of CPU each)
        "RS256": (lambda: rsa_key.sign(SIGNING_INPUT, padding.PKCS1v15(), hashes.SHA256()), 30),
        "ES256": (lambda: ec_key.sign(SIGNING_INPUT, ec.ECDSA(hashes.SHA256())), 400),
        "EdDSA": (lambda: ed_key.sign(SIGNING_INPUT), 400),
    }


def measure() -> dict[str, float]:
    """µs of CPU per signature, per algorithm (batches interleaved across the algorithms)."""
    signers = _signers()
    times: dict[str, list[float]] = {alg: [] for alg in signers}
    for sign, _ in signers.values():
        sign()  # warm
    for _ in range(BATCHES):
        for alg, (sign, n) in signers.items():
            t0 = time.process_time()
            for _ in range(n):
                sign()
            times[alg].append((time.process_time() - t0) / n * 1e6)
    return {alg: round(statistics.median(t), 1) for alg, t in times.items()}


def floor(cpu: int | None) -> dict[str, float]:
    """`measure()` in a fresh process pinned to `cpu` (the server's core)."""
    command = [sys.executable, "-m", "bench.signing"]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return {str(k): float(v) for k, v in json.loads(out).items()}


if __name__ == "__main__":
    print(json.dumps(measure()))
