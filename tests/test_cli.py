"""The real `tessera` command, run in subprocesses: users, keys, sessions.

Each test has its own data dir. Commands that only read (or only refuse) run concurrently once
the database exists, to keep the wall time down; commands that write run one at a time. Setup
and checks go through an in-process `Tessera` on the same data dir, opened and closed around
each use so it never holds the SQLite file while the CLI runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tessera import Tessera
from tessera.errors import InvalidGrant
from tessera.sessions import ClientInfo, Issued
from tessera.store import UserRecord
from tests.conftest import PASSWORD, make_settings
from tests.helpers import subprocess_env
from tests.live import COMMAND

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CLI_TIMEOUT = 60.0
NEW_PASSWORD = "tr0ub4dor & 3, but longer"
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


# running the command ----------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def cli_env() -> dict[str, str]:
    return subprocess_env(NO_COLOR="1", COLUMNS="200")


async def tessera(
    data_dir: Path, group: str, command: str, *args: str, stdin: str | None = None
) -> Result:
    """`tessera GROUP COMMAND --data-dir D ARGS...`; stdin is a pipe (never a terminal)."""
    argv = [*COMMAND, group, command, "--data-dir", str(data_dir), *args]
    with anyio.fail_after(CLI_TIMEOUT):
        if stdin is None:
            done = await anyio.run_process(
                argv,
                stdin=subprocess.DEVNULL,
                check=False,
                cwd=data_dir.parent,
                env=cli_env(),
            )
        else:
            done = await anyio.run_process(
                argv, input=stdin.encode(), check=False, cwd=data_dir.parent, env=cli_env()
            )
    result = Result(done.returncode, done.stdout.decode(), done.stderr.decode())
    assert "Traceback" not in result.err, str(result)
    return result


async def concurrently(*calls: tuple[Sequence[str], str | None], data_dir: Path) -> list[Result]:
    """Run several commands at once (each `(group command args..., stdin)`); results in order."""
    results: list[Result | None] = [None] * len(calls)

    async def one(index: int, words: Sequence[str], stdin: str | None) -> None:
        results[index] = await tessera(data_dir, words[0], words[1], *words[2:], stdin=stdin)

    async with anyio.create_task_group() as tg:
        for index, (words, stdin) in enumerate(calls):
            tg.start_soon(one, index, words, stdin)
    return [r for r in results if r is not None]


def ok(result: Result) -> Result:
    assert result.code == 0, str(result)
    return result


def refused(result: Result, *fragments: str) -> Result:
    """A non-zero exit whose stderr says why (every fragment, case-insensitively)."""
    assert result.code != 0, str(result)
    for fragment in fragments:
        assert fragment.lower() in result.err.lower(), str(result)
    return result


def rows(output: str) -> list[list[str]]:
    """The body of one of the CLI's tables (columns are two or more spaces apart)."""
    lines = [line for line in output.splitlines() if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


# the service, in-process, on the same data dir ---------------------------------------------


@asynccontextmanager
async def opened(data_dir: Path) -> AsyncIterator[Tessera]:
    service = Tessera(make_settings(data_dir))
    await service.start()
    try:
        yield service
    finally:
        await service.close()


async def add_users(data_dir: Path, *names: str) -> None:
    async with opened(data_dir) as service:
        for name in names:
            await service.users.add(name, PASSWORD)


async def user(service: Tessera, name: str) -> UserRecord:
    found = await service.users.get(name)
    assert found is not None, f"no user {name!r}"
    return found


async def open_session(service: Tessera, name: str) -> Issued:
    """A session for `name`, opened the way a login opens one."""
    account = await user(service, name)
    return await service.sessions.open(account.id, account.role, ClientInfo())


async def refresh_refused(service: Tessera, token: str) -> bool:
    try:
        await service.sessions.refresh(token, ClientInfo())
    except InvalidGrant:
        return True
    return False


# key material ------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638, computed here rather than by the library under test."""
    members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
    canonical = json.dumps(
        {name: jwk[name] for name in members[jwk["kty"]]}, separators=(",", ":"), sort_keys=True
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


def rsa_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = key.private_numbers()
    public = numbers.public_numbers
    return {
        "kty": "RSA",
        "n": b64url_int(public.n),
        "e": b64url_int(public.e),
        "d": b64url_int(numbers.d),
        "p": b64url_int(numbers.p),
        "q": b64url_int(numbers.q),
    }


def pem_body(pem: bytes) -> list[str]:
    """The base64 lines of a PEM (what a clear copy of the key would contain)."""
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


def database_bytes(data_dir: Path) -> bytes:
    """Everything the SQLite database has on disk, WAL included."""
    files = sorted(data_dir.glob("tessera.db*"))
    assert files, f"no database in {data_dir}"
    return b"".join(path.read_bytes() for path in files)


def assert_not_stored(data_dir: Path, secrets_: list[str]) -> None:
    stored = database_bytes(data_dir)
    for secret in secrets_:
        assert len(secret) >= 16
        assert secret.encode() not in stored, f"found {secret[:12]}... in clear in the database"


async def private_members_of_ring(service: Tessera) -> list[str]:
    """The private JWK members of every key in the ring, as the service holds them."""
    found: list[str] = []
    for info in service.keys.info():
        key = service.keys.lookup(info.kid)
        if key is None:
            continue
        private = json.loads(key.private_json())
        found += [private[m] for m in PRIVATE_JWK_MEMBERS if m in private]
    return found


# users --------------------------------------------------------------------------------------


async def test_users_add_list_and_refusals(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    added = ok(await tessera(data_dir, "users", "add", "alice", stdin=PASSWORD + "\n"))
    assert "alice" in added.out

    # the database exists now: these can run side by side
    root, duplicate, bad_name, in_argv, empty = await concurrently(
        (["users", "add", "root", "--role", "admin"], PASSWORD + "\n"),
        (["users", "add", "alice"], NEW_PASSWORD + "\n"),
        (["users", "add", "bad name"], PASSWORD + "\n"),
        (["users", "add", "bob", NEW_PASSWORD], ""),  # a password is never taken from argv
        (["users", "add", "carol"], "\n"),
        data_dir=data_dir,
    )
    assert "admin" in ok(root).out
    refused(duplicate, "alice", "already exists")
    refused(bad_name, "username")
    refused(in_argv)
    refused(empty, "empty")
    listed = ok(await tessera(data_dir, "users", "list"))

    for result in (added, root, listed):
        assert PASSWORD not in result.out + result.err
    assert {row[0]: row[1] for row in rows(listed.out)} == {"alice": "user", "root": "admin"}

    async with opened(data_dir) as service:
        assert {u.username for u in await service.users.list()} == {"alice", "root"}
        alice = await service.authenticator.authenticate("alice", PASSWORD)
        admin = await service.authenticator.authenticate("root", PASSWORD)
        assert alice is not None and alice.role == "user"
        assert admin is not None and admin.role == "admin"
        # the password came from stdin, whole line, and the duplicate add did not overwrite it
        assert await service.authenticator.authenticate("alice", PASSWORD + "x") is None
        assert await service.authenticator.authenticate("alice", NEW_PASSWORD) is None

    # the key-encryption secret is private to its owner, and so is the data dir
    assert (data_dir / "secret.key").stat().st_mode & 0o777 == 0o600
    assert data_dir.stat().st_mode & 0o077 == 0


async def test_users_passwd_changes_the_password_and_revokes_sessions(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await add_users(data_dir, "alice", "bob")
    async with opened(data_dir) as service:
        alices = await open_session(service, "alice")
        bobs = await open_session(service, "bob")

    changed, unknown = await concurrently(
        (["users", "passwd", "alice"], NEW_PASSWORD + "\n"),
        (["users", "passwd", "nobody"], NEW_PASSWORD + "\n"),
        data_dir=data_dir,
    )
    ok(changed)
    assert NEW_PASSWORD not in changed.out + changed.err
    refused(unknown, "nobody")

    async with opened(data_dir) as service:
        assert await service.authenticator.authenticate("alice", PASSWORD) is None
        principal = await service.authenticator.authenticate("alice", NEW_PASSWORD)
        assert principal is not None and principal.role == "user"
        alice = await user(service, "alice")
        assert await service.sessions.active(alice.id) == []
        assert not await service.sessions.is_active(alices.session.id)
        assert await refresh_refused(service, alices.refresh_token)
        # someone else's session and password are untouched
        assert await service.authenticator.authenticate("bob", PASSWORD) is not None
        assert await service.sessions.is_active(bobs.session.id)


async def test_users_remove_revokes_sessions(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await add_users(data_dir, "alice", "bob")
    async with opened(data_dir) as service:
        alice_id = (await user(service, "alice")).id
        alices = [await open_session(service, "alice") for _ in range(2)]
        bobs = await open_session(service, "bob")

    removed, unknown = await concurrently(
        (["users", "remove", "alice"], None),
        (["users", "remove", "nobody"], None),
        data_dir=data_dir,
    )
    assert "alice" in ok(removed).out
    refused(unknown, "nobody")

    async with opened(data_dir) as service:
        assert [u.username for u in await service.users.list()] == ["bob"]
        assert await service.authenticator.authenticate("alice", PASSWORD) is None
        assert await service.sessions.active(alice_id) == []
        for issued in alices:
            assert not await service.sessions.is_active(issued.session.id)
            assert await refresh_refused(service, issued.refresh_token)
        assert await service.sessions.is_active(bobs.session.id)


# keys ---------------------------------------------------------------------------------------


def pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


async def test_keys_list_rotate_and_import(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with opened(data_dir) as service:
        (first,) = service.keys.info()
        assert (first.alg, first.state, first.retire_at) == ("RS256", "active", None)
        (jwk,) = service.keys.jwks()["keys"]
        assert jwk["kid"] == first.kid == thumbprint(jwk)
    original = first.kid

    # rotate: a new active key; the old one stays in the JWKS until it retires
    before = time.time()
    rotated = ok(await tessera(data_dir, "keys", "rotate"))
    after = time.time()
    match = re.search(r"new signing key (\S+)", rotated.out)
    assert match, str(rotated)
    second = match.group(1)
    assert second != original

    async with opened(data_dir) as service:
        assert service.keys.signing_key().kid == second
        jwks = {k["kid"]: k for k in service.keys.jwks()["keys"]}
        assert set(jwks) == {original, second}
        assert thumbprint(jwks[second]) == second
        info = {k.kid: k for k in service.keys.info()}
        assert (info[second].state, info[original].state) == ("active", "previous")
        retire_at = info[original].retire_at
        assert retire_at is not None
        # it verifies for one access-token lifetime plus leeway, reload interval and a margin
        assert before + 625 - 1 <= retire_at <= after + 625 + 1

    # import: a PEM becomes the active key, its kid the thumbprint
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = pkcs8(rsa_key)
    expected = rsa_jwk(rsa_key)
    imported_kid = thumbprint(expected)
    files = {
        "rsa.pem": rsa_pem,
        "ec.pem": pkcs8(ec.generate_private_key(ec.SECP256R1())),
        "public.pem": rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "garbage.pem": b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)

    imported = ok(await tessera(data_dir, "keys", "import", str(tmp_path / "rsa.pem")))
    assert imported_kid in imported.out and "active" in imported.out

    listed, wrong_alg, garbage, public = await concurrently(
        (["keys", "list"], None),
        (["keys", "import", str(tmp_path / "ec.pem")], None),
        (["keys", "import", str(tmp_path / "garbage.pem")], None),
        (["keys", "import", str(tmp_path / "public.pem")], None),
        data_dir=data_dir,
    )
    refused(wrong_alg, "ES256", "TESSERA_ALGORITHM")
    refused(garbage, "PEM")
    refused(public, "private")
    table_ = {row[0]: row for row in rows(ok(listed).out)}
    assert set(table_) == {original, second, imported_kid}
    assert table_[imported_kid][1:3] == ["RS256", "active"] and table_[imported_kid][4] == "-"
    for kid in (original, second):
        assert table_[kid][1:3] == ["RS256", "previous"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", table_[kid][4])

    async with opened(data_dir) as service:
        assert service.keys.signing_key().kid == imported_kid
        jwks = {k["kid"]: k for k in service.keys.jwks()["keys"]}
        assert set(jwks) == {original, second, imported_kid}
        mine = jwks[imported_kid]
        assert (mine["n"], mine["e"], mine["alg"]) == (expected["n"], expected["e"], "RS256")
        for entry in jwks.values():
            assert not set(PRIVATE_JWK_MEMBERS) & set(entry)
        # new tokens are signed by the imported key
        await service.users.add("alice", PASSWORD)
        token, _claims = service.mint_access_token((await open_session(service, "alice")).session)
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        assert (header["kid"], header["alg"]) == (imported_kid, "RS256")
        private = await private_members_of_ring(service)

    # no private key material in clear in the database: not the PEM, not any JWK member
    assert expected["d"] in private  # the ring holds the very key we imported
    assert len(private) == 3 * 6
    assert b"PRIVATE KEY" not in database_bytes(data_dir)
    body = [line for line in pem_body(rsa_pem) if len(line) >= 16]
    assert_not_stored(data_dir, [*body, *private])


# sessions -----------------------------------------------------------------------------------


async def test_sessions_list_and_revoke(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await add_users(data_dir, "alice", "bob")
    async with opened(data_dir) as service:
        alice1 = await open_session(service, "alice")
        alice2 = await open_session(service, "alice")
        bob1 = await open_session(service, "bob")
        bob2 = await open_session(service, "bob")
        # a rotated session: neither its old nor its new token may be stored in clear
        rotated = await service.sessions.refresh(bob2.refresh_token, ClientInfo())
        bob_id = (await user(service, "bob")).id
    tokens = [i.refresh_token for i in (alice1, alice2, bob1, bob2, rotated)]

    everyone, alices, nobody, unknown, neither = await concurrently(
        (["sessions", "list"], None),
        (["sessions", "list", "--user", "alice"], None),
        (["sessions", "list", "--user", "nobody"], None),
        (["sessions", "revoke", "no-such-session-id"], None),
        (["sessions", "revoke"], None),
        data_dir=data_dir,
    )
    listed = {row[0]: row[1] for row in rows(ok(everyone).out)}
    assert listed == {
        alice1.session.id: "alice",
        alice2.session.id: "alice",
        bob1.session.id: "bob",
        bob2.session.id: "bob",
    }
    assert {row[0] for row in rows(ok(alices).out)} == {alice1.session.id, alice2.session.id}
    refused(nobody, "nobody")
    refused(unknown, "no-such-session-id")
    refused(neither)

    revoked_one = ok(await tessera(data_dir, "sessions", "revoke", alice1.session.id))
    assert re.search(r"\b1\b", revoked_one.out), str(revoked_one)
    revoked_bob = ok(await tessera(data_dir, "sessions", "revoke", "--user", "bob"))
    assert re.search(r"\b2\b", revoked_bob.out), str(revoked_bob)

    async with opened(data_dir) as service:
        assert [s.id for s in await service.sessions.active(None)] == [alice2.session.id]
        assert not await service.sessions.is_active(alice1.session.id)
        assert await refresh_refused(service, alice1.refresh_token)
        assert await service.sessions.active(bob_id) == []
        assert await refresh_refused(service, rotated.refresh_token)
        assert not await refresh_refused(service, alice2.refresh_token)

    assert_not_stored(data_dir, tokens)
    assert (data_dir / "secret.key").stat().st_mode & 0o777 == 0o600


async def test_session_ids_cannot_be_taken_for_options(tmp_path: Path) -> None:
    """An admin pastes an id from `sessions list` into `sessions revoke ID`: ids are hex, so
    none starts with '-' and is taken for an option."""
    data_dir = tmp_path / "data"
    await add_users(data_dir, "alice")
    async with opened(data_dir) as service:
        alice = await user(service, "alice")
        issued = await service.sessions.open(alice.id, alice.role, ClientInfo())
    assert re.fullmatch(r"[0-9a-f]{32}", issued.session.id)
    ok(await tessera(data_dir, "sessions", "revoke", issued.session.id))
    async with opened(data_dir) as service:
        assert not await service.sessions.is_active(issued.session.id)
