"""`make bench`: Tessera side by side with what Python users would otherwise pick, in one run on
one machine, every number next to a same-run comparison.

1. Verify cost per algorithm against joserfc, PyJWT and the raw primitive, and a DPoP proof
   check next to a cold verify (`bench.verify`).
2. Login timing: unknown user vs wrong password (`bench.login_timing`); a login flood from one
   address while another address logs in (`bench.login_flood`); the light install's size and
   import time next to PyJWT + httpx (`bench.install`).
3. Database bytes per Tessera session (`bench.storage`).
3b. Revocation propagation between two replicas on PostgreSQL, and its hot-path price
   (`bench.revocation`).
3c. `tessera serve --workers N`: refresh/s and protected GET/s with 1 and 2 workers, and per
   server CPU-second, on SQLite and PostgreSQL (`bench.workers`; unpinned, sharing the cores
   with the load generator, as the table says).
4. Over real HTTP, on SQLite and on PostgreSQL, the same phases against Tessera, DRF +
   simplejwt and Flask + flask-jwt-extended (`bench.compare`, `bench.systems`): the load
   generator pinned to CPU 0, the servers (all started side by side, measured one at a time)
   to CPU 1; the refresh phase in rounds interleaved across the systems, reported as medians.

Results: `bench/results/latest.md` and `latest.json`. `python -m bench --quick` runs shorter
phases; `--systems tessera,simplejwt` and `--no-postgres` narrow it down.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import bench.install
import bench.login_flood
import bench.login_timing
import bench.revocation
import bench.storage
import bench.systems
import bench.verify
import bench.workers
from bench.compare import REFRESH_ROUNDS, Load, run_systems
from bench.load import LoadResult
from bench.postgres import scratch_database
from bench.systems import SYSTEMS, start

RESULTS = Path(__file__).with_name("results")
TARGET_REFRESH_RATIO = 4.0
TARGET_REFRESH_P99_MS = 50.0
TARGET_PROTECTED_RATIO = 0.9
TARGET_STORM_RATIO = 2.0


def verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def _mib(value: int | None) -> str:
    return f"{value / 2**20:.0f}" if value else "-"


def compare_all(systems: list[str], load: Load, postgres: bool) -> dict[str, dict[str, Any]]:
    """{database: {system: phases}}: per database, every system running side by side (each
    on its own scratch PostgreSQL database), measured one at a time."""
    runs: dict[str, dict[str, Any]] = {}
    server_cpu = 1 if load.load_cpu is not None else None
    for db in ("SQLite", "PostgreSQL") if postgres else ("SQLite",):
        with ExitStack() as stack:
            servers = {}
            for system in systems:
                database = None
                if db == "PostgreSQL":
                    database = stack.enter_context(scratch_database())
                    if database is None:
                        print("  (no PostgreSQL reachable: skipped)")
                        break
                print(f"- {SYSTEMS[system][0]} on {db}", flush=True)
                servers[system] = stack.enter_context(start(system, database, server_cpu))
            else:
                runs[db] = run_systems(servers, load)
    return runs


def targets(
    runs: dict[str, dict[str, Any]],
    verify: dict[str, Any],
    load: Load,
    revocation: dict[str, Any] | None = None,
    flood: dict[str, Any] | None = None,
    install: dict[str, Any] | None = None,
    dpop: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float, goal: str, ok: bool) -> None:
        rows.append({"target": name, "value": round(value, 3), "goal": goal, "pass": ok})

    spread = (revocation or {}).get("propagation")
    if spread is not None:
        slowest = max(spread["verifier_ms"]["max"], spread["replica_ms"]["max"])
        add(
            "revocation propagation, slowest of all, ms (PostgreSQL)",
            slowest,
            f"<= {spread['target_ms']:g}",
            slowest <= spread["target_ms"],
        )

    for db, systems in runs.items():
        tessera = systems.get("tessera")
        if tessera is None:
            continue
        refresh: LoadResult = tessera["refresh"]
        if "simplejwt" in systems:
            ratio = refresh.per_second / max(systems["simplejwt"]["refresh"].per_second, 1e-9)
            add(
                f"refresh/s per core, Tessera / simplejwt ({db})",
                ratio,
                f">= {TARGET_REFRESH_RATIO:g}",
                ratio >= TARGET_REFRESH_RATIO,
            )
        add(
            f"refresh p99 ms at {load.users} users ({db})",
            refresh.p99_ms,
            f"<= {TARGET_REFRESH_P99_MS:g}",
            refresh.p99_ms <= TARGET_REFRESH_P99_MS,
        )
        ratio = tessera["pair_ratio"]  # the median of adjacent protected/unprotected rounds
        add(
            f"protected GET / same route unprotected ({db})",
            ratio,
            f">= {TARGET_PROTECTED_RATIO:g}",
            ratio >= TARGET_PROTECTED_RATIO,
        )
        storm: LoadResult = tessera["storm"]
        ratio = storm.p99_ms / max(refresh.p99_ms, 1e-9)
        add(
            f"refresh p99 during a login storm / without ({db})",
            ratio,
            f"<= {TARGET_STORM_RATIO:g}",
            ratio <= TARGET_STORM_RATIO,
        )
    for setup, r in (flood or {}).items():
        if setup != "as shipped":
            continue
        add(
            "login flood from one address: passwords checked",
            r["checked"],
            f"<= {bench.login_flood.PER_IP_LIMIT}",
            r["checked"] <= bench.login_flood.PER_IP_LIMIT,
        )
        add(
            "login flood: another address's login, seconds",
            r["login_seconds"],
            f"<= {bench.login_flood.TARGET_LOGIN_S:g}",
            r["login_status"] == 200 and r["login_seconds"] <= bench.login_flood.TARGET_LOGIN_S,
        )
    if install and "error" not in install:
        add(
            "light install, MB (pip install tessera)",
            install["tessera_mb"],
            f"<= {bench.install.TARGET_MB:g}",
            install["tessera_mb"] <= bench.install.TARGET_MB,
        )
        add(
            "import tessera.verify / import jwt, httpx",
            install["import_ratio"],
            f"<= {bench.install.TARGET_IMPORT_RATIO:g}",
            install["import_ratio"] <= bench.install.TARGET_IMPORT_RATIO,
        )
    for alg, r in verify.items():
        add(
            f"cold verify / joserfc ({alg})",
            r["cold_vs_joserfc"],
            f"<= {bench.verify.TARGET_COLD_RATIO:g}",
            r["cold_vs_joserfc"] <= bench.verify.TARGET_COLD_RATIO,
        )
        hit = r["Tessera Verifier, cache hit"]
        add(
            f"cache-hit verify µs ({alg})",
            hit,
            f"<= {bench.verify.TARGET_HIT_US:g}",
            hit <= bench.verify.TARGET_HIT_US,
        )
    if dpop is not None:
        ratio = dpop["proof_vs_cold_verify"]
        add(
            "DPoP proof check / cold verify (ES256)",
            ratio,
            f"<= {bench.verify.TARGET_PROOF_RATIO:g}",
            ratio <= bench.verify.TARGET_PROOF_RATIO,
        )
    return rows


def race_text(race: dict[str, Any]) -> str:
    if "error" in race:
        return race["error"]
    text = (
        f"{race['succeeded']}/{race['simultaneous']} ok, "
        f"{race['distinct_successors']} successor(s), {race['successors_usable_after']} usable"
    )
    return text + (" (**forked**)" if race["forked"] else "")


def markdown(report: dict[str, Any], runs: dict[str, dict[str, Any]], load: Load) -> str:
    lines = [
        "# Tessera vs. the Python peers",
        "",
        f"{report['when']}; `{report['command']}`. Server pinned to CPU {report['server_cpu']},"
        f" load generator to CPU {load.load_cpu}; {load.users} closed-loop users per phase"
        f" (logins: {load.login_users}), {load.seconds:g} s per phase; refresh: the median of"
        f" {REFRESH_ROUNDS} rounds of {load.seconds / 2:g} s interleaved across the systems,"
        " all running side by side. gunicorn: "
        f"{report['gunicorn_workers']} sync workers. Protected GETs by {report['get_tool']}."
        " The machine is shared and noisy: compare the ratios within one run, not absolute"
        " numbers across runs.",
        "",
        "## Targets",
        "",
        "| target | value | goal | result |",
        "| --- | --- | --- | --- |",
        *(
            f"| {t['target']} | {t['value']:.2f} | {t['goal']} | {verdict(t['pass'])} |"
            for t in report["targets"]
        ),
        "",
    ]
    for db, systems in runs.items():
        lines += [
            f"## Over HTTP on {db}",
            "",
            "| system | login/s | refresh/s | refresh p50 / p99 ms | protected GET/s "
            "| GET p50 / p99 ms | race: 10 refreshes of one token | peak RSS MiB "
            "(login / refresh) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for system, p in systems.items():
            login, refresh, get = p["login"], p["refresh"], p["protected"]
            rss = p["peak_rss_bytes"]
            lines.append(
                f"| {SYSTEMS[system][0]} | {login.per_second:.1f} | {refresh.per_second:.0f} "
                f"| {refresh.p50_ms:.1f} / {refresh.p99_ms:.1f} | {get.per_second:.0f} "
                f"| {get.p50_ms:.1f} / {get.p99_ms:.1f} | {race_text(p['race'])} "
                f"| {_mib(rss.get('login'))} / {_mib(rss.get('refresh'))} |"
            )
        tessera = systems.get("tessera")
        if tessera:
            open_, storm, storm_logins = tessera["open"], tessera["storm"], tessera["storm_logins"]
            lines += [
                "",
                f"Tessera only: the same route unprotected {open_.per_second:.0f} GET/s "
                f"(p50 {open_.p50_ms:.1f} / p99 {open_.p99_ms:.1f} ms); refresh during a storm "
                f"of {load.storm_users} users logging in: {storm.per_second:.0f}/s, p50 "
                f"{storm.p50_ms:.1f} / p99 {storm.p99_ms:.1f} ms, while "
                f"{storm_logins.per_second:.1f} logins/s; peak RSS during the storm "
                f"{_mib(tessera['peak_rss_bytes'].get('login storm'))} MiB.",
            ]
        errors = [
            f"{SYSTEMS[s][0]} {phase}: {r.errors}"
            for s, p in systems.items()
            for phase, r in p.items()
            if isinstance(r, LoadResult) and r.errors
        ]
        if errors:
            lines += ["", "Errors (counted, not throughput): " + "; ".join(errors) + "."]
        lines.append("")
    storage = report["storage"]
    lines += [
        "## Database bytes per Tessera session",
        "",
        "| database | per login | per refresh | per session after "
        f"{bench.storage.REFRESHES} refreshes |",
        "| --- | --- | --- | --- |",
        *(
            f"| {db} | {s['bytes_per_login']} | {s['bytes_per_refresh']} "
            f"| {s['bytes_per_session_after_refreshes']} |"
            for db, s in storage.items()
        ),
        "",
        f"(Growth of the whole compacted database over {bench.storage.SESSIONS} sessions: "
        "session row, one token row per generation, audit rows, indexes.)",
        "",
        report["revocation_markdown"],
        "",
        report["workers_markdown"],
        "",
        report["verify_markdown"],
        "",
        report["login_timing_markdown"],
        "",
        report["login_flood_markdown"],
        "",
        report["install_markdown"],
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="3 s phases")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    cpus = len(os.sched_getaffinity(0))
    load = Load(seconds=3.0 if args.quick else 8.0, load_cpu=0 if cpus > 1 else None)
    RESULTS.mkdir(exist_ok=True)
    started = time.monotonic()
    print("verify cost, login timing, storage ...", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc's RFC 9864 note on the EdDSA name
        verify = bench.verify.run()
    timing = bench.login_timing.run()
    print("login flood ...", flush=True)
    flood = bench.login_flood.run()
    print("light install ...", flush=True)
    install = bench.install.run()
    with scratch_database() as database:
        storage = bench.storage.run(None if args.no_postgres else database)
    print("revocation propagation ...", flush=True)
    revocation = bench.revocation.run(postgres=not args.no_postgres)
    print("workers: 1 and 2 ...", flush=True)
    workers = bench.workers.run(quick=args.quick, postgres=not args.no_postgres)
    if load.load_cpu is not None:
        os.sched_setaffinity(0, {load.load_cpu})
    runs = compare_all(systems, load, postgres=not args.no_postgres)
    tools = {p.get("get_tool") for systems_ in runs.values() for p in systems_.values()}
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": "make bench"
        if not (args.quick or args.no_postgres)
        else "python -m bench "
        + " ".join(a for a in ("--quick" * args.quick, "--no-postgres" * args.no_postgres) if a),
        "server_cpu": 1 if load.load_cpu is not None else None,
        "load": load.__dict__,
        "gunicorn_workers": bench.systems.GUNICORN_WORKERS,
        "get_tool": "/".join(sorted(t for t in tools if t)) or "-",
        "targets": targets(
            runs, verify["results"], load, revocation, flood["results"], install, verify["dpop"]
        ),
        "http": {
            db: {
                system: {k: (v.as_dict() if isinstance(v, LoadResult) else v) for k, v in p.items()}
                for system, p in systems_.items()
            }
            for db, systems_ in runs.items()
        },
        "storage": storage,
        "revocation": {k: v for k, v in revocation.items() if k != "markdown"},
        "revocation_markdown": revocation["markdown"],
        "workers": {k: v for k, v in workers.items() if k != "markdown"},
        "workers_markdown": workers["markdown"],
        "verify": verify["results"],
        "verify_dpop": verify["dpop"],
        "verify_markdown": verify["markdown"],
        "login_timing": {k: v for k, v in timing.items() if k != "markdown"},
        "login_timing_markdown": timing["markdown"],
        "login_flood": flood["results"],
        "login_flood_markdown": flood["markdown"],
        "install": {k: v for k, v in install.items() if k != "markdown"},
        "install_markdown": install["markdown"],
        "seconds": round(time.monotonic() - started),
    }
    text = markdown(report, runs, load)
    (RESULTS / "latest.md").write_text(text)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(text)
    print(f"({report['seconds']} s)")


if __name__ == "__main__":
    main()
