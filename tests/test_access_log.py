"""A request cannot write a line of its own into the access log (issue 15 review, finding 12).

The attack: `GET /healthz%0a2026-12-05%2004:20:00,000%20WARNING%20tessera.limits…`. The server
decodes the percent-escapes into the path, and the text log used to print that path as it
was: a second, genuine-looking line. Now every character a log reader could take for a line
break or a terminal command is escaped, in the text line and in the JSON `path` field alike."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.live import LISTENING, Served, serve

pytestmark = pytest.mark.slow

WAIT = 30.0  # seconds: generous, for a loaded machine
FORGED = "2026-12-05 04:20:00,000 WARNING tessera.limits [-] forged"
# percent-escaped as sent -> how the log shows the decoded character
BREAKS = {
    "%0a": "\\n",
    "%0d": "\\r",
    "%0d%0a": "\\r\\n",
    "%1b[2K%0d": "\\x1b[2K\\r",  # an ANSI escape: erase the line on a terminal
    "%c2%85": "\\x85",  # NEL: a line break to Python's splitlines
    "%e2%80%a8": "\\u2028",  # LINE SEPARATOR: a line break to JavaScript and some viewers
    "%5cn": "\\\\n",  # a backslash of its own: doubled, so it cannot pass for an escape
}


def raw_get(url: str, target: str) -> bytes:
    """One request written byte for byte (a client library would re-encode the target)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=WAIT) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def access_lines(served: Served, count: int) -> list[str]:
    """The server's stderr lines, once `count` of them are from the access log."""

    def lines() -> list[str]:
        return served.stderr_path.read_text(errors="replace").split("\n")

    wait_until(
        lambda: sum("tessera.access" in line for line in lines()) >= count,
        f"{count} access-log lines",
    )
    return lines()


def forge_all(data_dir: Path, log_format: str) -> list[str]:
    with serve(data_dir, env={"TESSERA_LOG_FORMAT": log_format}) as served:
        url = served.expect(LISTENING).group(1)
        for escaped in BREAKS:
            target = f"/healthz{escaped}{FORGED.replace(' ', '%20')}"
            assert raw_get(url, target).startswith(b"HTTP/1.1 404")
        return access_lines(served, len(BREAKS))


def test_the_text_log_shows_a_forged_line_as_part_of_its_path(tmp_path: Path) -> None:
    lines = forge_all(tmp_path / "data", "text")
    assert not [line for line in lines if line.startswith(FORGED)]
    assert not [line for line in lines if set(line) & {"\r", "\x1b", "\x85", "\u2028"}]
    for shown in BREAKS.values():
        logged = f"GET /healthz{shown}{FORGED} 404 "
        assert [line for line in lines if logged in line], (shown, lines)


def test_the_json_log_path_field_is_escaped_too(tmp_path: Path) -> None:
    lines = forge_all(tmp_path / "data", "json")
    entries = [json.loads(line) for line in lines if '"tessera.access"' in line]
    paths = {entry["path"] for entry in entries}
    assert paths == {f"/healthz{shown}{FORGED}" for shown in BREAKS.values()}
    for entry in entries:
        assert re.fullmatch(rf"GET {re.escape(entry['path'])} 404 [\d.]+ms", entry["message"])
