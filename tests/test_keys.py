"""The signing key ring: first key, rotation, retirement, JWKS, sealing, algorithms."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import import_key

from tessera import ManualClock, Tessera, create_app
from tessera.sealing import SealError
from tessera.sessions import ClientInfo
from tessera.tokens import InvalidToken
from tests.conftest import make_settings
from tests.helpers import bearer

pytestmark = pytest.mark.anyio


async def started(tmp_path: Path, clock: ManualClock, **overrides: object) -> Tessera:
    service = Tessera(make_settings(tmp_path / "data", **overrides), clock=clock)
    try:
        await service.start()
    except BaseException:
        await service.close()
        raise
    return service


async def test_first_start_creates_one_rs256_key(tmp_path: Path, clock: ManualClock) -> None:
    service = await started(tmp_path, clock)
    [info] = service.keys.info()
    assert (info.alg, info.state) == ("RS256", "active")
    [jwk] = service.keys.jwks()["keys"]
    assert jwk["kid"] == info.kid == import_key(jwk).thumbprint()
    assert jwk["alg"] == "RS256" and jwk["use"] == "sig"
    assert "d" not in jwk and "p" not in jwk
    await service.close()
    again = await started(tmp_path, clock)
    assert [k.kid for k in again.keys.info()] == [info.kid]
    await again.close()


async def test_rotation_keeps_old_tokens_valid_until_they_expire(
    tmp_path: Path, clock: ManualClock
) -> None:
    service = await started(tmp_path, clock)
    session = (await service.sessions.open("u1", "user", _client())).session
    old_token, _ = service.mint_access_token(session)
    old_kid = service.keys.signing_key().kid
    new = await service.keys.rotate()
    assert new.kid != old_kid
    assert {k["kid"] for k in service.keys.jwks()["keys"]} == {old_kid, new.kid}
    new_token, _ = service.mint_access_token(session)
    assert json.loads(_b64(new_token.split(".")[0]))["kid"] == new.kid
    assert (await service.verify_access_token(old_token)).sid == session.id
    assert (await service.verify_access_token(new_token)).sid == session.id
    [previous] = [k for k in service.keys.info() if k.kid == old_kid]
    assert previous.state == "previous"
    assert previous.retire_at == clock.now() + 600 + 10 + 10 + 5  # ttl, leeway, reload, margin
    # Past the retirement time the old key leaves the JWKS and stops verifying.
    clock.advance(626)
    await service.keys.reload()
    assert [k["kid"] for k in service.keys.jwks()["keys"]] == [new.kid]
    with pytest.raises(InvalidToken) as caught:
        await service.verify_access_token(old_token)
    assert caught.value.reason in {"unknown_key", "expired"}
    await service.close()


async def test_other_processes_pick_up_a_rotation(tmp_path: Path, clock: ManualClock) -> None:
    server = await started(tmp_path, clock)
    cli = await started(tmp_path, clock)
    new = await cli.keys.rotate()
    await cli.close()
    assert server.keys.lookup(new.kid) is None
    clock.advance(11)  # the reload interval
    await server.ready()
    assert server.keys.signing_key().kid == new.kid
    await server.close()


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "HS256"])
async def test_other_algorithms(tmp_path: Path, clock: ManualClock, algorithm: str) -> None:
    service = await started(tmp_path, clock, algorithm=algorithm)
    await service.users.add("alice", "pw-123456")
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        response = await client.post(
            "/auth/login", json={"username": "alice", "password": "pw-123456", "transport": "body"}
        )
        token = response.json()["access_token"]
        header = json.loads(_b64(token.split(".")[0]))
        assert header["alg"] == algorithm
        assert (await client.get("/api/me", headers=bearer(token))).status_code == 200
        jwks = (await client.get("/.well-known/jwks.json")).json()
    if algorithm == "HS256":
        assert jwks == {"keys": []}  # a shared secret is never published
    else:
        assert [k["alg"] for k in jwks["keys"]] == [algorithm]
    await service.close()


async def test_changing_the_algorithm_rotates(tmp_path: Path, clock: ManualClock) -> None:
    first = await started(tmp_path, clock)
    old = first.keys.signing_key()
    await first.close()
    second = await started(tmp_path, clock, algorithm="ES256")
    assert second.keys.signing_key().alg == "ES256"
    assert second.keys.lookup(old.kid) is not None  # still verifies its tokens
    await second.close()


async def test_private_keys_are_sealed_with_the_secret(tmp_path: Path, clock: ManualClock) -> None:
    service = await started(tmp_path, clock)
    key = service.keys.signing_key()
    d_value = key.key.as_dict(private=True)["d"]
    await service.close()
    database = (tmp_path / "data" / "tessera.db").read_bytes()
    assert d_value.encode() not in database
    secret_file = tmp_path / "data" / "secret.key"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    secret_file.write_text("another-secret-value-0123456789\n")
    with pytest.raises(SealError):
        await started(tmp_path, clock)


async def test_configured_secret_is_used(tmp_path: Path, clock: ManualClock) -> None:
    service = await started(tmp_path, clock, secret="s" * 32)
    assert not (tmp_path / "data" / "secret.key").exists()
    await service.close()
    with pytest.raises(SealError):
        await started(tmp_path, clock, secret="t" * 32)


async def test_tokens_survive_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    service = await started(tmp_path, clock)
    await service.users.add("alice", "pw-123456")
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        tokens = await login_as(client, "alice", "pw-123456")
    await service.close()
    restarted = await started(tmp_path, clock)
    assert (await restarted.verify_access_token(tokens["access_token"])).sid == tokens["session_id"]
    issued = await restarted.sessions.refresh(tokens["refresh_token"], _client())
    assert issued.session.id == tokens["session_id"]
    await restarted.close()


async def login_as(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/auth/login", json={"username": username, "password": password, "transport": "body"}
    )
    assert response.status_code == 200
    body: dict[str, str] = response.json()
    return body


def _client() -> ClientInfo:
    return ClientInfo()


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


async def test_scheduled_rotation_prepublishes_then_retires(
    tmp_path: Path, clock: ManualClock
) -> None:
    day = 86400.0
    replicas = [
        await started(tmp_path, clock, key_rotation_interval=30 * day, key_prepublish=3600)
        for _ in range(2)
    ]
    first = replicas[0].keys.signing_key()
    clock.advance(30 * day - 3600)  # one pre-publication period before the rotation is due
    for replica in replicas:  # every replica runs the schedule; the store arbitrates
        await replica.keys.maintain()
    states = sorted(k.state for k in replicas[0].keys.info())
    assert states == ["active", "next"]
    [waiting] = [k for k in replicas[0].keys.info() if k.state == "next"]
    jwks = {k["kid"] for k in replicas[1].keys.jwks()["keys"]}
    assert jwks == {first.kid, waiting.kid}  # published ...
    assert replicas[1].keys.signing_key().kid == first.kid  # ... but not signing yet

    clock.advance(1800)
    await replicas[1].keys.maintain()
    assert replicas[1].keys.signing_key().kid == first.kid  # not before the period is over
    clock.advance(1800)
    for replica in replicas:
        await replica.keys.maintain()
    assert {r.keys.signing_key().kid for r in replicas} == {waiting.kid}
    old_token, _ = replicas[0].tokens.mint(
        first, sub="u", role="r", sid="s", now=clock.now() - 5, ttl=600
    )
    assert (await replicas[1].verify_access_token(old_token)).sub == "u"  # still verifies
    clock.advance(626)  # every token the old key signed has expired (plus reload and margin)
    await replicas[0].keys.maintain()
    assert {k.state for k in replicas[0].keys.info() if k.kid == first.kid} == {"retired"}
    assert [k["kid"] for k in replicas[0].keys.jwks()["keys"]] == [waiting.kid]
    for replica in replicas:
        await replica.close()
