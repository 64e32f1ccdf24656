"""A service that only verifies tokens, or only calls an API, loads none of the server's stack:
`tessera.verify` (and its Flask adapter), `tessera.client` and `tessera decode`, each in a
fresh interpreter. Without the server's packages installed, the server's commands say how to
get them."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import subprocess_env

SERVER_STACK = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "argon2", "alembic")
# An unsigned-looking but well-formed JWT: decode shows it without any key.
TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9."
    "eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzAwMDAwMDAwfQ."
    "c2lnbmF0dXJl"
)


def run_python(code: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter; it prints one JSON line last on stderr."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=False,
    )
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "{}"
    result: dict[str, object] = json.loads(last)
    result["stdout"] = done.stdout
    return result


REPORT = f"""
import json, sys
loaded = sorted(m for m in {SERVER_STACK!r} if m in sys.modules)
print(json.dumps({{"loaded": loaded, "code": code}}), file=sys.stderr)
"""


def test_the_verifier_and_the_client_load_no_server_stack() -> None:
    result = run_python(
        "import tessera, tessera.verify, tessera.verify.flask, tessera.client\n"
        "from tessera import AccessClaims, InvalidToken\n"
        "from tessera.verify import Verifier\n"
        "from tessera.client import TokenAuth\n"
        "code = 0\n" + REPORT
    )
    assert result["loaded"] == []


def test_decode_loads_no_server_stack() -> None:
    result = run_python(
        "import sys\n"
        "from tessera.cli import main\n"
        f"sys.argv = ['tessera', 'decode', {TOKEN!r}]\n"
        "try:\n    main()\n    code = 0\nexcept SystemExit as exit:\n    code = exit.code\n"
        + REPORT
    )
    assert result["loaded"] == []
    assert result["code"] in (0, 1, 2)
    assert "alice" in str(result["stdout"])  # it did decode


def test_the_server_names_load_on_first_use() -> None:
    result = run_python(
        "import sys, tessera\n"
        "before = 'fastapi' in sys.modules\n"
        "from tessera import Tessera, Settings\n"
        "code = [before, 'fastapi' in sys.modules, Tessera.__name__, Settings.__name__]\n" + REPORT
    )
    assert result["code"] == [False, True, "Tessera", "Settings"]


def test_without_the_server_packages_server_commands_say_what_to_install() -> None:
    """The server's packages made unimportable, as in a `pip install tessera` without the
    `server` extra: decode still works, serve explains itself."""
    hide = (
        "import sys, importlib.abc\n"
        "class Missing(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {SERVER_STACK!r} + ('pydantic_settings',):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Missing())\n"
        "from tessera.cli import main\n"
    )
    serve = run_python(
        hide + "sys.argv = ['tessera', 'serve', '--port', '0']\n"
        "try:\n    main()\n    code = 0\nexcept SystemExit as exit:\n    code = exit.code\n"
        "import traceback\n" + REPORT
    )
    assert serve["code"] == 1
    decode = run_python(
        hide + f"sys.argv = ['tessera', 'decode', {TOKEN!r}]\n"
        "try:\n    main()\n    code = 0\nexcept SystemExit as exit:\n    code = exit.code\n"
        + REPORT
    )
    assert decode["loaded"] == [] and "alice" in str(decode["stdout"])


def test_the_hint_names_the_extra() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, importlib.abc\n"
            "class Missing(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'fastapi':\n"
            "            raise ModuleNotFoundError('No module named fastapi', name='fastapi')\n"
            "sys.meta_path.insert(0, Missing())\n"
            "from tessera.cli import main\n"
            "sys.argv = ['tessera', 'serve']\n"
            "main()\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=False,
    )
    assert done.returncode == 1
    assert "pip install 'tessera[server]'" in done.stderr
    assert "fastapi is not installed" in done.stderr
