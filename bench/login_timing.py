"""Does a login reveal whether a username exists? Median time of a wrong password for a real
user against an unknown username, interleaved, at the default argon2id cost."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tessera import Settings, Tessera, create_app

ROUNDS = 40


async def measure() -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="tessera-timing-"))
    service = Tessera(
        Settings(data_dir=data_dir, login_limit_per_user=10**6, login_limit_per_ip=10**6)
    )
    await service.start()
    await service.users.add("alice", "the-right-password")
    transport = httpx.ASGITransport(app=create_app(service))
    samples: dict[str, list[float]] = {"wrong password": [], "unknown user": []}
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        for _ in range(ROUNDS):
            for name, username in (("wrong password", "alice"), ("unknown user", "mallory")):
                started = time.perf_counter()
                response = await client.post(
                    "/auth/login", json={"username": username, "password": "nope"}
                )
                samples[name].append(time.perf_counter() - started)
                assert response.status_code == 401
    await service.close()
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    spread = statistics.pstdev(samples["wrong password"]) * 1000
    difference = medians["unknown user"] - medians["wrong password"]
    return {"median_ms": medians, "difference_ms": difference, "noise_ms": spread}


def run() -> dict[str, Any]:
    result = asyncio.run(measure())
    m = result["median_ms"]
    result["markdown"] = (
        "## Login timing (default argon2id cost)\n\n"
        f"- wrong password {m['wrong password']:.1f} ms, unknown user {m['unknown user']:.1f} ms "
        f"(median of {ROUNDS} each): difference {result['difference_ms']:+.1f} ms, "
        f"noise (std dev) {result['noise_ms']:.1f} ms — "
        f"{'within noise' if abs(result['difference_ms']) <= result['noise_ms'] else 'ABOVE NOISE'}"
    )
    return result


if __name__ == "__main__":
    print(run()["markdown"])
