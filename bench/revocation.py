"""Revocation propagation: two `tessera serve` replicas on one PostgreSQL; sessions revoked on
replica A; how long until a `Verifier` following replica B's feed, and B's own protected
route, refuse the session's still-unexpired access token. Target: under 1 s, every time.

Also the price on the hot path: a cache-hit verify with 10 000 revoked sessions in the set
against the same verifier with no feed (a ratio from the same run).
"""

from __future__ import annotations

import statistics
import time
import timeit
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx

from bench.postgres import scratch_database
from bench.server import tessera_serve
from tessera import ManualClock
from tessera.revocations import RevocationFeed
from tessera.tokens import AccessTokenPolicy, InvalidToken, generate_key
from tessera.verify import Verifier

ROUNDS = 60
DEADLINE = 5.0  # seconds; past this a revocation counts as lost
TARGET = 1.0
SECRET = "bench-revocation-" + "s" * 32


def _refused(verifier: Verifier, token: str) -> bool:
    try:
        verifier.verify(token)
    except InvalidToken:
        return True
    return False


def _refused_by_route(client: httpx.Client, auth: dict[str, str]) -> bool:
    return client.get("/api/me", headers=auth).status_code == 401


def _until(check: Callable[[], bool]) -> float:
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > DEADLINE:
            return float("inf")
        time.sleep(0.0005)
    return time.monotonic()


def propagation() -> dict[str, Any] | None:
    with scratch_database() as database:
        if database is None:
            return None
        settings = {
            "database_url": database,
            "secret": SECRET,
            "argon2_memory_kib": "8192",
            "argon2_time_cost": "1",
            "login_limit_per_ip": "100000",
        }
        with tessera_serve(None, **settings) as a, tessera_serve(None, **settings) as b:
            verifier = Verifier(
                f"{b.url}/.well-known/jwks.json",
                issuer="tessera",
                audience="tessera",
                revocations=f"{b.url}/auth/revocations",
            )
            assert verifier.revocations is not None
            verifier.revocations.wait_until_synced(DEADLINE)
            to_verifier, after_answer, to_replica = [], [], []
            with httpx.Client(base_url=a.url) as on_a, httpx.Client(base_url=b.url) as on_b:
                for _ in range(ROUNDS):
                    tokens = on_a.post(
                        "/auth/login",
                        json={"username": b.username, "password": b.password, "transport": "body"},
                    ).json()
                    token = tokens["access_token"]
                    auth = {"Authorization": f"Bearer {token}"}
                    verifier.verify(token)  # cached: the refusal must come from the feed
                    began = time.monotonic()
                    on_a.post("/auth/logout", headers=auth)
                    answered = time.monotonic()
                    seen = _until(partial(_refused, verifier, token))
                    gone = _until(partial(_refused_by_route, on_b, auth))
                    to_verifier.append(seen - began)
                    after_answer.append(seen - answered)
                    to_replica.append(gone - began)
            verifier.close()
    return {
        "rounds": ROUNDS,
        "verifier_ms": _summary(to_verifier),
        "verifier_after_answer_ms": _summary(after_answer),
        "replica_ms": _summary(to_replica),
        "target_ms": TARGET * 1000,
        "pass": max(to_verifier + to_replica) <= TARGET,
    }


def _summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "median": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "max": ms[-1],
    }


def hot_path() -> dict[str, float]:
    """Cache-hit verify, with and without a revocation set of 10 000 sessions."""
    clock = ManualClock()
    key = generate_key("RS256")
    policy = AccessTokenPolicy(issuer="i", audience="a")
    token, _ = policy.mint(key, sub="u", role="r", sid="s", now=clock.now(), ttl=600)
    jwks = {"keys": [key.public_jwk()]}
    plain = Verifier.from_jwks(jwks, issuer="i", audience="a", clock=clock)
    feed = RevocationFeed("http://127.0.0.1:9/unused", clock=clock, start=False)
    feed.revoked.add((f"sid-{n}", clock.now() + 600) for n in range(10_000))
    following = Verifier.from_jwks(jwks, issuer="i", audience="a", clock=clock, revocations=feed)
    plain.verify(token)
    following.verify(token)
    rounds: dict[str, list[float]] = {"plain": [], "following": []}
    number = 200_000
    for _ in range(7):  # interleaved, so drift on a noisy machine hits both alike
        for name, verifier in (("plain", plain), ("following", following)):
            seconds = timeit.timeit(partial(verifier.verify, token), number=number)
            rounds[name].append(seconds / number * 1e6)
    plain_us = statistics.median(rounds["plain"])
    following_us = statistics.median(rounds["following"])
    return {"plain_us": plain_us, "following_us": following_us, "ratio": following_us / plain_us}


def run(postgres: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {
        "hot_path": hot_path(),
        "propagation": propagation() if postgres else None,
    }
    hot, spread = result["hot_path"], result["propagation"]
    lines = [
        "## Revocation propagation",
        "",
        f"- cache-hit verify with 10 000 revoked sessions followed: {hot['following_us']:.2f} µs"
        f" vs {hot['plain_us']:.2f} µs without a feed ({hot['ratio']:.2f} x)",
    ]
    if spread is None:
        lines.append("- propagation: skipped (no PostgreSQL reachable)")
    else:
        v, after, r = (
            spread["verifier_ms"],
            spread["verifier_after_answer_ms"],
            spread["replica_ms"],
        )
        verdict = "pass" if spread["pass"] else "FAIL"
        lines += [
            f"- {spread['rounds']} sessions revoked on replica A (two `tessera serve` on one"
            " PostgreSQL), timed from the start of the logout request:",
            f"  - refused by a Verifier following B's feed: median {v['median']:.1f} ms,"
            f" p99 {v['p99']:.1f} ms, max {v['max']:.1f} ms"
            f" (median {after['median']:.1f} ms after the logout was answered)",
            f"  - refused by replica B's /api/me: median {r['median']:.1f} ms,"
            f" p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms",
            f"  - target: every one within {spread['target_ms']:.0f} ms: {verdict}",
        ]
    result["markdown"] = "\n".join(lines)
    return result


if __name__ == "__main__":
    print(run()["markdown"])
