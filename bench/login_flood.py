"""A login flood at the default argon2id cost: 2000 wrong-password logins fired at once from
one address, and meanwhile one correct login from another address (security review, finding
1). Reports how many passwords the flood got checked (goal: at most the address's limit) and
how long the other login took (goal: 2 s), with the bounds on checks in progress as shipped and
opened wide (the count before each check alone)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from bench.server import tessera_serve

FLOOD = 2000
PER_IP_LIMIT = 50
TARGET_LOGIN_S = 2.0
ATTACKER, VICTIM = "127.0.0.1", "127.0.0.2"  # both loopback: Linux routes all of 127/8
SETUPS = {
    "as shipped": {},
    "in-flight bounds opened wide": {
        "login_max_in_flight": "5000",
        "login_max_in_flight_per_ip": "5000",
    },
}


async def raw_login(url: str, username: str, password: str, source: str = ATTACKER) -> int:
    """One login on its own connection from `source`, written by hand: the status code."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    body = json.dumps({"username": username, "password": password}).encode()
    reader, writer = await asyncio.open_connection(host, int(port), local_addr=(source, 0))
    try:
        writer.write(
            b"POST /auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (host.encode(), len(body), body)
        )
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()
    finally:
        writer.close()
    return int(status_line.split()[1])


async def flood_with_a_login(
    url: str, username: str, password: str, size: int = FLOOD
) -> dict[str, Any]:
    """`size` wrong-password logins from ATTACKER, all at once; half a second in, a correct
    login from VICTIM. The flood's status counts and the other login's status and seconds."""
    flood = [asyncio.create_task(raw_login(url, f"user{n}", "wrong")) for n in range(size)]
    await asyncio.sleep(0.5)  # the burst is on the wire and being answered
    transport = httpx.AsyncHTTPTransport(local_address=VICTIM)
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=60.0) as victim:
        started = time.monotonic()
        response = await victim.post(
            "/auth/login", json={"username": username, "password": password}
        )
        took = time.monotonic() - started
    statuses = await asyncio.gather(*flood)
    return {
        "checked": statuses.count(401),
        "refused": statuses.count(429) + statuses.count(503),
        "other": len(statuses) - statuses.count(401) - statuses.count(429) - statuses.count(503),
        "login_status": response.status_code,
        "login_seconds": round(took, 3),
    }


def run() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, extra in SETUPS.items():
        with tessera_serve(login_limit_per_ip=str(PER_IP_LIMIT), **extra) as server:
            results[name] = asyncio.run(
                flood_with_a_login(server.url, server.username, server.password)
            )
    lines = [
        "## Login flood (default argon2id cost)",
        "",
        f"{FLOOD} wrong-password logins at once from one address (limit {PER_IP_LIMIT}), and "
        "meanwhile a correct login from another address.",
        "",
        f"| setup | passwords checked (goal <= {PER_IP_LIMIT}) | refused at once | "
        f"other login: status, seconds (goal <= {TARGET_LOGIN_S:g}) |",
        "| --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['checked']} | {r['refused']} | {r['login_status']}, "
            f"{r['login_seconds']:.2f} |"
        )
    return {"results": results, "markdown": "\n".join(lines)}


if __name__ == "__main__":
    print(run()["markdown"])
