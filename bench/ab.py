"""An interleaved A/B of two checkouts: the server CPU each spends per refresh or per protected
GET, under the same closed-loop load, rounds alternating within the same minute.

    python -m bench.ab ../main                 # refresh, SQLite, RS256: this checkout vs ../main
    python -m bench.ab ../main --route get     # GET /api/me with a bearer token
    python -m bench.ab ../main --postgres --dpop --alg ES256

"A" is the other checkout, "B" this one; the figure is B's CPU per request over A's, round by
round, as the median (min-max). A change to a hot path is kept when B/A says so with a spread
that does not straddle 1. Both servers run as `tessera serve` runs (access log on), pinned to
the same core; the load generator runs on the other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from contextlib import ExitStack
from pathlib import Path

from bench.load import LoadResult
from bench.phases import Load, VirtualUser, log_in, python_get, refresh_phase
from bench.postgres import scratch_database
from bench.systems import ROOT, Running, start, tree_cpu_seconds
from tessera.dpop import ProofKey


def measure(server: Running, route: str, load: Load, vus: list[VirtualUser]) -> tuple[float, float]:
    """Server CPU milliseconds per successful request, and the p99 in milliseconds."""
    before = tree_cpu_seconds(server.pid)
    result: LoadResult
    if route == "refresh":
        result = asyncio.run(refresh_phase(server, load, vus))
    else:
        tokens = [vu.access for vu in vus]
        result = asyncio.run(python_get(server, "/api/me", tokens, load, "get"))
    spent = tree_cpu_seconds(server.pid) - before
    done = result.requests - result.errors
    if done <= 0:
        raise RuntimeError(f"{server.url}: no request succeeded ({result.as_dict()})")
    return spent * 1000 / done, result.p99_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (A)")
    parser.add_argument("--route", choices=("refresh", "get"), default="refresh")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--dpop", action="store_true", help="sessions bound to a DPoP key")
    parser.add_argument("--alg", default="RS256")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    if args.dpop and args.route == "get":
        parser.error("--dpop measures refreshes only (a GET would need a proof per request)")
    os.sched_setaffinity(0, {0})
    load = Load(seconds=args.seconds)
    roots = {"A": args.other.resolve(), "B": ROOT}
    with ExitStack() as stack:
        servers: dict[str, Running] = {}
        users: dict[str, list[VirtualUser]] = {}
        for name, root in roots.items():
            database = stack.enter_context(scratch_database()) if args.postgres else None
            servers[name] = stack.enter_context(
                start("tessera", database, 1, args.alg, cheap_logins=True, root=root)
            )
            users[name] = [
                VirtualUser(key=ProofKey.generate() if args.dpop else None)
                for _ in range(load.users)
            ]
            asyncio.run(log_in(servers[name], users[name]))
        ratios: list[float] = []
        for round_ in range(args.rounds):
            order = ("A", "B") if round_ % 2 == 0 else ("B", "A")
            cost = {name: measure(servers[name], args.route, load, users[name]) for name in order}
            ratios.append(cost["B"][0] / cost["A"][0])
            print(
                f"round {round_ + 1}: A {cost['A'][0]:.3f} ms (p99 {cost['A'][1]:.1f}), "
                f"B {cost['B'][0]:.3f} ms (p99 {cost['B'][1]:.1f}), B/A {ratios[-1]:.3f}",
                flush=True,
            )
    print(
        f"{args.route} CPU per request, B/A: {statistics.median(ratios):.3f} "
        f"({min(ratios):.3f}-{max(ratios):.3f}) over {len(ratios)} rounds"
    )


if __name__ == "__main__":
    main()
