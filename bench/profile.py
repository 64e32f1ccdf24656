"""Profile Tessera under the benchmark's load: the server runs under pyinstrument (pinned to
one core, as in `make bench`) while the load generator drives one phase; prints the profile.

    python -m bench.profile refresh|protected [--postgres] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.phases import Load, VirtualUser, get_phase, login_phase, refresh_phase
from bench.postgres import scratch_database
from bench.systems import DEMO, LISTENING, ROOT, SECRET, SYSTEMS, Running


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=["refresh", "protected"])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    load = Load(seconds=args.seconds)
    with scratch_database() as database, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.pyisession"
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
            "TESSERA_DATA_DIR": tmp,
            "TESSERA_SECRET": SECRET,
            "TESSERA_ARGON2_MEMORY_KIB": "8192",  # logins are only the set-up here
            "TESSERA_ARGON2_TIME_COST": "1",
            "TESSERA_LOGIN_LIMIT_PER_USER": "1000000",
            "TESSERA_LOGIN_LIMIT_PER_USER_TOTAL": "1000000",
            "TESSERA_LOGIN_MAX_IN_FLIGHT": "1000000",
            "TESSERA_LOGIN_MAX_IN_FLIGHT_PER_IP": "1000000",
        }
        if args.postgres and database:
            env["TESSERA_DATABASE_URL"] = database
        pyinstrument = str(Path(sys.executable).with_name("pyinstrument"))
        command = ["taskset", "-c", "1", pyinstrument, "-r", "pyisession", "-o", str(out)]
        command += ["-m", "bench.peers.tessera_app", "0"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        assert process.stdout is not None
        url = password = None
        while not (url and password):
            line = process.stdout.readline()
            if match := LISTENING.search(line):
                url = match.group(1)
            if match := DEMO.search(line):
                password = match.group(2)
        api = SYSTEMS["tessera"][1]
        server = Running("tessera", "Tessera", "", url, process.pid, api, "demo", password, ROOT)
        vus = [VirtualUser() for _ in range(load.users)]
        asyncio.run(login_phase(server, Load(seconds=0.1), vus))
        if args.phase == "refresh":
            result = asyncio.run(refresh_phase(server, load, vus))
        else:
            result, _ = get_phase(server, api.protected_path, [v.access for v in vus], load, "GET")
        print(result.as_dict(), file=sys.stderr)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        time.sleep(0.5)
        for options in (["-p", "flat=true"], ["-p", "processor_options.filter_threshold=0.02"]):
            rendered = subprocess.run(
                [pyinstrument, "--load", str(out), "-r", "text", "--no-color", *options],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            print(rendered)


if __name__ == "__main__":
    main()
