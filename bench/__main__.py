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
3d. PostgreSQL's side of a refresh: round trips, commits, rows written and the database's CPU
   per refresh, counted through a proxy (`bench.pg_cost`): the capacity model's inputs.
4. Over real HTTP, on SQLite and on PostgreSQL, the same phases against Tessera, DRF +
   simplejwt and Flask + flask-jwt-extended (`bench.compare`, `bench.systems`): the load
   generator pinned to CPU 0, the servers (all started side by side, measured one at a time)
   to CPU 1. Like for like: the refresh rounds run every system on each of its algorithms
   (Tessera RS256, ES256, EdDSA and DPoP-bound sessions; the peers HS256, their default, and
   RS256), interleaved, with the server's CPU time per refresh and the signing floor measured
   on the server's core after each round (`bench.signing`).

Every target is a ratio (or a latency) taken round by round in the same run and reported as
the median (min-max) over >= 3 interleaved rounds: a busy machine moves absolute numbers, much
less a ratio of two neighbours in time.

Results: `bench/results/latest.md` and `latest.json`. `python -m bench --quick` runs shorter
phases; `--systems tessera,simplejwt` and `--no-postgres` narrow it down; `--http-only` runs
only part 4 and prints it (nothing written).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import bench.install
import bench.login_flood
import bench.login_timing
import bench.pg_cost
import bench.revocation
import bench.storage
import bench.systems
import bench.verify
import bench.workers
from bench.compare import (
    GET_ROUNDS,
    REFRESH_ROUNDS,
    STORM_ROUNDS,
    run_systems,
    spread,
    variant_name,
)
from bench.load import LoadResult
from bench.phases import Load
from bench.postgres import scratch_database
from bench.systems import ALGORITHMS, SYSTEMS, start

RESULTS = Path(__file__).with_name("results")
TARGET_REFRESH_RATIO = 4.0  # Tessera / simplejwt, both RS256
TARGET_FLOOR_RATIO = 1.6  # the server's CPU per refresh / one RS256 signature's
TARGET_REFRESH_P99_MS = 50.0
TARGET_PROTECTED_RATIO = 0.95
TARGET_STORM_RATIO = 1.5
TARGET_ACCESS_LOG_COST = 0.05


def verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def _mib(value: int | None) -> str:
    return f"{value / 2**20:.0f}" if value else "-"


def compare_all(
    systems: list[str], load: Load, postgres: bool, server_cpu: int | None
) -> dict[str, dict[str, Any]]:
    """{database: {"variants": {variant: phases}, "floors": [signing floor per round]}}: per
    database, every system on each of its algorithms running side by side (each on its own
    scratch PostgreSQL database), measured one at a time."""
    runs: dict[str, dict[str, Any]] = {}
    for db in ("SQLite", "PostgreSQL") if postgres else ("SQLite",):
        with ExitStack() as stack:
            servers = {}
            for system in systems:
                for alg in ALGORITHMS[system]:
                    database = None
                    if db == "PostgreSQL":
                        database = stack.enter_context(scratch_database())
                        if database is None:
                            print("  (no PostgreSQL reachable: skipped)")
                            break
                    print(f"- {SYSTEMS[system][0]} ({alg}) on {db}", flush=True)
                    servers[variant_name(system, alg)] = stack.enter_context(
                        start(system, database, server_cpu, alg, alg != ALGORITHMS[system][0])
                    )
                else:
                    continue
                break
            else:
                variants, floors = run_systems(servers, load, server_cpu)
                runs[db] = {"variants": variants, "floors": floors}
    return runs


def _rounds(phases: dict[str, Any], key: str) -> list[float]:
    return [float(r[key]) for r in phases["refresh_rounds"]]


def _ratios(a: list[float], b: list[float]) -> dict[str, Any]:
    return spread([x / max(y, 1e-9) for x, y in zip(a, b, strict=True)])


def refresh_figures(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per variant, from its interleaved refresh rounds: refresh/s, p99, the server's CPU ms
    per refresh, and for Tessera that CPU over the signing floor of its algorithm (RS256 for
    DPoP-bound sessions, which sign RS256 and check an ES256 proof) measured after the same
    round; for the others, Tessera's refresh/s on the same algorithm over theirs."""
    variants, floors = run["variants"], run["floors"]
    figures: dict[str, dict[str, Any]] = {}
    for name, phases in variants.items():
        alg = phases["alg"]
        cpu = _rounds(phases, "server_cpu_ms_per_refresh")
        f: dict[str, Any] = {
            "alg": alg,
            "per_second": spread(_rounds(phases, "per_second")),
            "p99_ms": spread(_rounds(phases, "p99_ms")),
            "cpu_ms": spread(cpu),
            "per_cpu_second": 1000 / statistics.median(cpu) if any(cpu) else 0.0,
        }
        if name.startswith("tessera "):
            f["floor_ratio"] = _ratios(cpu, [fl[alg] / 1000 for fl in floors])
            if all("http" in fl for fl in floors):
                # The least a refresh on this stack could take (`bench.stack_floor`), and
                # what this one takes beyond it.
                least = [fl[alg] + fl["http"] + fl.get("sql", 0.0) for fl in floors]
                f["stack_floor_ratio"] = _ratios(least, [fl[alg] for fl in floors])
                f["beyond_stack_us"] = spread(
                    [c * 1000 - s for c, s in zip(cpu, least, strict=True)]
                )
        else:
            same = variants.get(variant_name("tessera", alg))
            if same is not None:
                f["tessera_ratio"] = _ratios(
                    _rounds(same, "per_second"), _rounds(phases, "per_second")
                )
        figures[name] = f
    return figures


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

    def add_spread(name: str, s: dict[str, Any], goal: str, at_least: bool, limit: float) -> None:
        value = s["median"]
        rows.append(
            {
                "target": name,
                "value": round(value, 3),
                "min": round(s["min"], 3),
                "max": round(s["max"], 3),
                "rounds": len(s["rounds"]),
                "goal": goal,
                "pass": value >= limit if at_least else value <= limit,
            }
        )

    spread = (revocation or {}).get("propagation")
    if spread is not None:
        slowest = max(spread["verifier_ms"]["max"], spread["replica_ms"]["max"])
        add(
            "revocation propagation, slowest of all, ms (PostgreSQL)",
            slowest,
            f"<= {spread['target_ms']:g}",
            slowest <= spread["target_ms"],
        )

    for db, run in runs.items():
        variants, figures = run["variants"], refresh_figures(run)
        main = variant_name("tessera", "RS256")
        tessera = variants.get(main)
        if tessera is None:
            continue
        peer = figures.get(variant_name("simplejwt", "RS256"))
        if peer is not None:
            add_spread(
                f"refresh/s, Tessera / simplejwt, both RS256 ({db})",
                peer["tessera_ratio"],
                f">= {TARGET_REFRESH_RATIO:g}",
                True,
                TARGET_REFRESH_RATIO,
            )
        for name, kind in ((main, "unbound"), (variant_name("tessera", "RS256", True), "DPoP")):
            if name in figures:
                add_spread(
                    f"refresh server CPU / RS256 signing floor, {kind} ({db})",
                    figures[name]["floor_ratio"],
                    f"<= {TARGET_FLOOR_RATIO:g}",
                    False,
                    TARGET_FLOOR_RATIO,
                )
        add_spread(
            f"refresh p99 ms at {load.users} users, RS256 ({db})",
            figures[main]["p99_ms"],
            f"<= {TARGET_REFRESH_P99_MS:g}",
            False,
            TARGET_REFRESH_P99_MS,
        )
        add_spread(
            f"refresh p99 during a login storm / without ({db})",
            tessera["storm_ratio"],
            f"<= {TARGET_STORM_RATIO:g}",
            False,
            TARGET_STORM_RATIO,
        )
        add_spread(
            f"protected GET / same requests unprotected, server CPU, the check's own cost"
            f" measured in the server ({db})",
            tessera["pair_ratio_in_server"],
            f">= {TARGET_PROTECTED_RATIO:g}",
            True,
            TARGET_PROTECTED_RATIO,
        )
        if "pair_ratio_beside_a_dependency" in tessera:
            add_spread(
                f"protected GET / the same requests behind a no-op FastAPI dependency (what"
                f" any dependency costs left out), measured in the server ({db})",
                tessera["pair_ratio_beside_a_dependency"],
                f">= {TARGET_PROTECTED_RATIO:g}",
                True,
                TARGET_PROTECTED_RATIO,
            )
        add_spread(
            f"access log cost, share of a GET's server CPU, the line's own cost measured in"
            f" the server ({db})",
            tessera["access_log_cost_in_server"],
            f"<= {TARGET_ACCESS_LOG_COST:g}",
            False,
            TARGET_ACCESS_LOG_COST,
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


def _value(t: dict[str, Any]) -> str:
    if "min" in t:
        return f"{t['value']:.2f} ({t['min']:.2f}-{t['max']:.2f})"
    return f"{t['value']:.2f}"


def _s(s: dict[str, Any], digits: int = 0, scale: float = 1.0) -> str:
    """A spread as `median (min-max)`."""
    return (
        f"{s['median'] * scale:.{digits}f} ({s['min'] * scale:.{digits}f}-"
        f"{s['max'] * scale:.{digits}f})"
    )


def variant_label(name: str, alg: str) -> str:
    system = name.split(" ")[0]
    return f"{SYSTEMS[system][0]}, {alg}" + (", DPoP-bound" if name.endswith(" DPoP") else "")


def markdown(report: dict[str, Any], runs: dict[str, dict[str, Any]], load: Load) -> str:
    lines = [
        "# Tessera vs. the Python peers",
        "",
        f"{report['when']}; `{report['command']}`; {report['machine']}; load average"
        f" {report['load_average_at_start']:g} at the start, {report['load_average_at_end']:g}"
        f" at the end. Server pinned to CPU"
        f" {report['server_cpu']}, load generator to CPU {load.load_cpu}; {load.users}"
        f" closed-loop users per phase (logins: {load.login_users}), {load.seconds:g} s per"
        f" phase. Refresh: {REFRESH_ROUNDS} rounds of {load.seconds / 2:g} s interleaved across"
        " every system on each of its algorithms (Tessera RS256, ES256, EdDSA and DPoP-bound;"
        " the peers HS256, their default, and RS256), all running side by side; after each"
        " round, the signing floor measured on the server's core (`bench.signing`) and the"
        " stack's (`bench.stack_floor`). Storm:"
        f" {STORM_ROUNDS} pairs of rounds with and without a login storm. GETs: {GET_ROUNDS}"
        " rounds, protected, unprotected and protected with the access log off in rotating"
        " order, each followed by a round mixing the protected route, its unprotected twin and"
        " its twin behind a no-op FastAPI dependency while the access log turns off and on"
        " every 0.1 s. Tessera logs as shipped (info level, access log on, to a file). gunicorn: "
        f"{report['gunicorn_workers']} sync workers. Protected GETs by {report['get_tool']}."
        " Every ratio is taken round by round, within the same minute, and shown as the"
        " median (min-max) over the rounds; absolute numbers hold for this machine on this"
        " day only.",
        "",
        "## Targets",
        "",
        "| target | value: median (min-max) | goal | result |",
        "| --- | --- | --- | --- |",
        *(
            f"| {t['target']} | {_value(t)} | {t['goal']} | {verdict(t['pass'])} |"
            for t in report["targets"]
        ),
        "",
    ]
    for db, run in runs.items():
        variants = run["variants"]
        figures = refresh_figures(run)
        floors = {
            alg: spread([f[alg] for f in run["floors"]]) for alg in ("RS256", "ES256", "EdDSA")
        }
        lines += [
            f"## Over HTTP on {db}",
            "",
            "Each system on its default algorithm:",
            "",
            "| system | login/s | refresh/s | refresh p50 / p99 ms | protected GET/s "
            "| GET p50 / p99 ms | race: 10 refreshes of one token | peak RSS MiB "
            "(login / refresh) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, p in variants.items():
            if "login" not in p:
                continue
            login, refresh, get = p["login"], p["refresh"], p["protected"]
            rss = p["peak_rss_bytes"]
            lines.append(
                f"| {variant_label(name, p['alg'])} | {login.per_second:.1f} "
                f"| {refresh.per_second:.0f} "
                f"| {refresh.p50_ms:.1f} / {refresh.p99_ms:.1f} | {get.per_second:.0f} "
                f"| {get.p50_ms:.1f} / {get.p99_ms:.1f} | {race_text(p['race'])} "
                f"| {_mib(rss.get('login'))} / {_mib(rss.get('refresh'))} |"
            )
        lines += [
            "",
            "Refresh, every variant (median (min-max) over the interleaved rounds; *server CPU"
            " ms* is the server's own CPU time per refresh, all its processes; */ floor*: that"
            " over one signature of the same algorithm measured on the same core after the"
            " same round; *Tessera x*: Tessera's refresh/s on the same algorithm over this"
            " variant's, round by round):",
            "",
            "| variant | refresh/s | p99 ms | server CPU ms per refresh | refreshes per server"
            " CPU-s | / floor | Tessera x |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, f in figures.items():
            lines.append(
                f"| {variant_label(name, f['alg'])} | {_s(f['per_second'])} "
                f"| {_s(f['p99_ms'])} | {_s(f['cpu_ms'], 2)} | {f['per_cpu_second']:.0f} "
                f"| {_s(f['floor_ratio'], 2) if 'floor_ratio' in f else '-'} "
                f"| {_s(f['tessera_ratio'], 2) if 'tessera_ratio' in f else '-'} |"
            )
        lines += [
            "",
            "Signing floor on the server's core, µs of CPU per signature: "
            + "; ".join(f"{alg} {_s(s, 1)}" for alg, s in floors.items())
            + " (the most refreshes one core could sign:"
            + ", ".join(f" {alg} {1e6 / s['median']:.0f}/s" for alg, s in floors.items())
            + ").",
        ]
        main = figures.get(variant_name("tessera", "RS256"), {})
        if "stack_floor_ratio" in main:
            stack = {
                part: spread([fl[key] for fl in run["floors"]])
                for part, key in (("uvicorn alone", "http"), ("SQLite statements", "sql"))
                if all(key in fl for fl in run["floors"])
            }
            lines += [
                "",
                "The stack's floor (`bench.stack_floor`), µs of CPU per refresh: "
                + "; ".join(f"{part} {_s(s, 1)}" for part, s in stack.items())
                + ". Signature + those over the signature: "
                + _s(main["stack_floor_ratio"], 2)
                + " on RS256, the least */ floor* a refresh on this stack could show; Tessera's"
                " RS256 refresh spends " + _s(main["beyond_stack_us"]) + " µs beyond it.",
            ]
        tessera = variants.get(variant_name("tessera", "RS256"))
        if tessera:
            open_, off = tessera["open"], tessera["protected, log off"]
            cpu = tessera["get_cpu_ms"]
            app = tessera["app_cpu_us"]
            storm, logins, plain = tessera["storm"], tessera["storm_logins"], tessera["storm_plain"]
            lines += [
                "",
                f"Tessera only: the same route unprotected {open_.per_second:.0f} GET/s "
                f"(p50 {open_.p50_ms:.1f} / p99 {open_.p99_ms:.1f} ms); protected with the"
                f" access log off {off.per_second:.0f} GET/s; server CPU per GET, µs: protected"
                f" {_s(cpu['protected'], 0, 1000)}, unprotected {_s(cpu['open'], 0, 1000)},"
                f" protected with the log off {_s(cpu['protected, log off'], 0, 1000)}, and"
                " from those alone protected / unprotected"
                f" {_s(tessera['pair_ratio'], 2)} and the log's cost"
                f" {_s(tessera['access_log_cost'], 1, 100)} %; inside the app (thread CPU per"
                f" request, `bench.peers.app_cpu`), µs: protected {_s(app['protected'], 1)},"
                f" unprotected {_s(app['open'], 1)}, log off"
                f" {_s(app['protected, log off'], 1)}; from"
                " GET/s instead of CPU, protected / unprotected"
                f" {_s(tessera['pair_ratio_throughput'], 2)} and the log's cost"
                f" {_s(tessera['access_log_cost_throughput'], 1, 100)} %; refresh during a"
                " storm of"
                f" {load.storm_users} users logging in: {storm.per_second:.0f}/s, p50"
                f" {storm.p50_ms:.1f} / p99 {storm.p99_ms:.1f} ms, while"
                f" {logins.per_second:.1f} logins/s, against p99 {plain.p99_ms:.1f} ms in the"
                " rounds without; peak RSS during the storm"
                f" {_mib(tessera['peak_rss_bytes'].get('login storm'))} MiB.",
            ]
        errors = [
            f"{name} {phase}: {r.errors}"
            for name, p in variants.items()
            for phase, r in p.items()
            if isinstance(r, LoadResult) and r.errors
        ] + [
            f"{name} refresh round: {r['errors']}"
            for name, p in variants.items()
            for r in p["refresh_rounds"]
            if r["errors"]
        ]
        if errors:
            lines += ["", "Errors (counted, not throughput): " + "; ".join(errors) + "."]
        lines.append("")
    if "storage" not in report:
        return "\n".join(lines) + "\n"
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
        report["pg_cost_markdown"],
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


def machine() -> str:
    """The CPU model and core count, for any absolute number."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="3 s phases")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--http-only",
        action="store_true",
        help="only the side-by-side HTTP phases (printed, not written to bench/results)",
    )
    args = parser.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    postgres = not args.no_postgres
    cpus = len(os.sched_getaffinity(0))
    load = Load(seconds=3.0 if args.quick else 8.0, load_cpu=0 if cpus > 1 else None)
    server_cpu = 1 if load.load_cpu is not None else None
    started = time.monotonic()
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "command": "make bench"
        if not (args.quick or args.no_postgres or args.http_only)
        else "python -m bench "
        + " ".join(
            a
            for a in (
                "--quick" * args.quick,
                "--no-postgres" * args.no_postgres,
                "--http-only" * args.http_only,
            )
            if a
        ),
        "server_cpu": server_cpu,
        "load_average_at_start": round(os.getloadavg()[0], 1),
        "load": load.__dict__,
        "gunicorn_workers": bench.systems.GUNICORN_WORKERS,
    }
    verify: dict[str, Any] = {"results": {}, "dpop": None}
    flood: dict[str, Any] = {"results": {}}
    revocation: dict[str, Any] | None = None
    install: dict[str, Any] | None = None
    if not args.http_only:
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
            storage = bench.storage.run(database if postgres else None)
        print("revocation propagation ...", flush=True)
        revocation = bench.revocation.run(postgres=postgres)
        print("workers: 1 and 2 ...", flush=True)
        workers = bench.workers.run(quick=args.quick, postgres=postgres)
        print("PostgreSQL's side of a refresh ...", flush=True)
        pg_cost = bench.pg_cost.run(quick=args.quick) if postgres else None
        report.update(
            {
                "storage": storage,
                "revocation": {k: v for k, v in revocation.items() if k != "markdown"},
                "revocation_markdown": revocation["markdown"],
                "workers": {k: v for k, v in workers.items() if k != "markdown"},
                "workers_markdown": workers["markdown"],
                "pg_cost": pg_cost and {k: v for k, v in pg_cost.items() if k != "markdown"},
                "pg_cost_markdown": pg_cost["markdown"] if pg_cost else "",
                "verify": verify["results"],
                "verify_dpop": verify["dpop"],
                "verify_markdown": verify["markdown"],
                "login_timing": {k: v for k, v in timing.items() if k != "markdown"},
                "login_timing_markdown": timing["markdown"],
                "login_flood": flood["results"],
                "login_flood_markdown": flood["markdown"],
                "install": {k: v for k, v in install.items() if k != "markdown"},
                "install_markdown": install["markdown"],
            }
        )
    if load.load_cpu is not None:
        os.sched_setaffinity(0, {load.load_cpu})
    runs = compare_all(systems, load, postgres, server_cpu)
    tools = {p.get("get_tool") for run in runs.values() for p in run["variants"].values()}
    report["get_tool"] = "/".join(sorted(t for t in tools if t)) or "-"
    report["targets"] = targets(
        runs, verify["results"], load, revocation, flood["results"], install, verify["dpop"]
    )
    report["refresh_figures"] = {db: refresh_figures(run) for db, run in runs.items()}
    report["http"] = {
        db: {
            "variants": {
                name: {k: (v.as_dict() if isinstance(v, LoadResult) else v) for k, v in p.items()}
                for name, p in run["variants"].items()
            },
            "signing_floor_us": run["floors"],
        }
        for db, run in runs.items()
    }
    report["load_average_at_end"] = round(os.getloadavg()[0], 1)
    report["seconds"] = round(time.monotonic() - started)
    text = markdown(report, runs, load)
    if not args.http_only:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "latest.md").write_text(text)
        (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(text)
    print(f"({report['seconds']} s)")


if __name__ == "__main__":
    main()
