"""Tokens signed with the auth server's real key but outside its own minting policy: a lifetime
longer than the access TTL plus leeway, an `iat` older than that, a string claim longer than
256 characters, JSON text with unpaired surrogate escapes. Each is sent to `/api/me` (the
server's own verification) and to `Verifier`: the server refuses all of them; `Verifier`
refuses the strings and surrogates by default, and the lifetimes when told the TTL
(`max_lifetime`), which it cannot know by itself."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tessera import ManualClock, Tessera
from tessera.tokens import InvalidToken
from tessera.tokens.strict_json import b64url_decode
from tessera.users import Principal
from tessera.verify import Verifier
from tests.test_hostile_tokens import AUDIENCE, ISSUER, Forge, b64, seg

pytestmark = pytest.mark.anyio
TTL, LEEWAY = 600.0, 10.0  # the settings' defaults, which the `auth` fixture keeps
LONGEST = math.ceil(TTL) + LEEWAY  # the server's own bound on exp - iat and on iat's age


@dataclass
class Setting:
    service: Tessera
    client: httpx.AsyncClient
    forge: Forge
    clock: ManualClock
    verifier: Verifier  # the defaults: max_lifetime one day
    strict: Verifier  # told the server's TTL: max_lifetime = TTL + leeway

    async def server_refusal(self, token: str) -> str | None:
        """The server's error description for `token` at /api/me, or None if it accepts it."""
        response = await self.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 200:
            return None
        assert response.status_code == 401, response.text
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
        body = response.json()
        assert body["error"] == "invalid_token"
        return str(body["error_description"])


def refusal(verifier: Verifier, token: str) -> str | None:
    try:
        verifier.verify(token)
    except InvalidToken as exc:
        return exc.description
    return None


@pytest.fixture
def setting(auth: Tessera, client: httpx.AsyncClient, clock: ManualClock) -> Setting:
    assert (auth.settings.access_ttl, auth.settings.leeway) == (TTL, LEEWAY)
    jwks = auth.keys.jwks()
    options: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "clock": clock}
    return Setting(
        auth,
        client,
        Forge(auth.keys.signing_key(), clock.now()),
        clock,
        Verifier.from_jwks(jwks, cache_size=0, **options),
        Verifier.from_jwks(jwks, cache_size=0, max_lifetime=LONGEST, **options),
    )


def forged(setting: Setting, **changes: Any) -> str:
    """A token signed by the server's key, issued now, with `changes`."""
    return setting.forge.claim(**changes)


async def test_what_the_server_mints_passes_everywhere(setting: Setting) -> None:
    now = setting.clock.now()
    token, _ = setting.service.tokens.mint(
        setting.service.keys.signing_key(), sub="u", role="user", sid="s", now=now, ttl=TTL
    )
    assert await setting.server_refusal(token) is None
    assert refusal(setting.strict, token) is None
    assert await setting.server_refusal(forged(setting)) is None


# lifetimes ------------------------------------------------------------------------------------


async def test_a_lifetime_longer_than_the_ttl_plus_leeway_is_refused(setting: Setting) -> None:
    now = int(setting.clock.now())
    at_the_bound = forged(setting, exp=now + int(LONGEST))
    assert await setting.server_refusal(at_the_bound) is None
    assert refusal(setting.strict, at_the_bound) is None
    longer = forged(setting, exp=now + int(LONGEST) + 1)
    assert await setting.server_refusal(longer) == "token lifetime is out of bounds"
    assert refusal(setting.strict, longer) == "token lifetime is out of bounds"
    assert refusal(setting.verifier, longer) is None  # a day by default: it knows no TTL
    a_day = forged(setting, exp=now + 86400)
    assert await setting.server_refusal(a_day) == "token lifetime is out of bounds"


async def test_an_iat_older_than_the_ttl_plus_leeway_is_refused(setting: Setting) -> None:
    """Within the leeway after `exp` a token still passes; one whose `iat` is older than the
    longest lifetime was not minted here, even if `exp - iat` fits."""
    now = int(setting.clock.now())
    old = forged(setting, iat=now - LONGEST - 5, nbf=now - LONGEST - 5, exp=now - 7)
    assert await setting.server_refusal(old) == "token was issued too long ago"
    assert refusal(setting.strict, old) == "token was issued too long ago"
    assert refusal(setting.verifier, old) is None  # within its one day
    recent = forged(setting, iat=now - LONGEST + 5, nbf=now - LONGEST + 5, exp=now - 7)
    assert await setting.server_refusal(recent) is None  # exp 7 s ago, within 10 s of leeway
    expired = forged(setting, iat=now - LONGEST - 50, nbf=now - LONGEST - 50, exp=now - 60)
    assert await setting.server_refusal(expired) == "token has expired"  # said first, as before


# strings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": "u" * 257},
        {"role": "r" * 257},
        {"sid": "s" * 257},
        {"jti": "j" * 257},
        {"aud": [AUDIENCE, "a" * 257]},
        {"note": "n" * 257},
        {"cnf": {"jkt": "A" * 43, "x": ["y" * 257]}},
    ],
    ids=["sub", "role", "sid", "jti", "aud-member", "extra-claim", "nested"],
)
async def test_a_string_claim_longer_than_256_characters_is_refused(
    setting: Setting, changes: dict[str, Any]
) -> None:
    token = forged(setting, **changes)
    message = "a claim is longer than 256 characters"
    assert await setting.server_refusal(token) == message
    assert refusal(setting.verifier, token) == message
    assert refusal(setting.strict, token) == message


async def test_strings_of_256_characters_pass_and_verifiers_may_lift_the_bound(
    setting: Setting,
) -> None:
    token = forged(setting, sub="u" * 256, note="é" * 256)
    assert await setting.server_refusal(token) is None
    assert refusal(setting.verifier, token) is None
    long_scope = forged(setting, scope=" ".join(f"read:{n}" for n in range(100)))
    assert refusal(setting.verifier, long_scope) == "a claim is longer than 256 characters"
    keys = setting.service.keys.jwks()
    lifted = Verifier.from_jwks(
        keys, issuer=ISSUER, audience=AUDIENCE, clock=setting.clock, max_claim_length=None
    )
    assert refusal(lifted, long_scope) is None


def test_principals_are_bounded_so_no_login_mints_a_token_refused_later() -> None:
    Principal("s" * 255, "r" * 100)
    for subject, role in (("s" * 256, "user"), ("", "user"), ("u", "r" * 101), ("u", "")):
        with pytest.raises(ValueError, match="subject is 1-255 characters"):
            Principal(subject, role)
    Principal("s", "r", name="n" * 255)
    for name in ("", "n" * 256, "two\nlines", "tab\there", "\x00"):
        with pytest.raises(ValueError, match="name is 1-255 printable characters"):
            Principal("s", "r", name=name)


# surrogates -----------------------------------------------------------------------------------


def raw(setting: Setting, text: str) -> str:
    """A token whose payload is exactly the JSON `text`, signed by the server's key."""
    return setting.forge.signed(raw_payload=b64(text.encode()))


def claims_text(setting: Setting, **changes: Any) -> str:
    """The JSON text of a fresh token's claims (json.dumps writes every non-ASCII character,
    a lone surrogate included, as a \\u escape)."""
    return seg({**setting.forge.claims, **changes})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("high", {"sub": "user-\ud800"}),
        ("low", {"sub": "\udc00user"}),
        ("reversed-pair", {"sub": "\udc00\ud800"}),
        ("in-an-extra-claim", {"note": ["ok", {"deep": "\udfff"}]}),
        ("in-a-member-name", {"\ud83d": "x"}),
    ],
)
async def test_unpaired_surrogate_escapes_are_refused(
    setting: Setting, name: str, value: dict[str, Any]
) -> None:
    token = setting.forge.signed(raw_payload=claims_text(setting, **value))
    assert "\\ud" in b64_text(token), name
    expected = "bad payload: unpaired surrogate escape"
    assert await setting.server_refusal(token) == expected
    assert refusal(setting.verifier, token) == expected


async def test_a_surrogate_pair_escape_is_one_character_and_passes(setting: Setting) -> None:
    token = setting.forge.signed(raw_payload=claims_text(setting, sub="user-\U0001f600"))
    assert "\\ud83d\\ude00" in b64_text(token)
    assert await setting.server_refusal(token) is None
    assert setting.verifier.verify(token).sub == "user-\U0001f600"
    escaped_backslash = raw(setting, b64_text(forged(setting))[:-1] + ',"n":"\\\\ud800"}')
    assert await setting.server_refusal(escaped_backslash) is None  # a backslash, then "ud800"


def b64_text(token: str) -> str:
    """The payload of `token` as JSON text."""
    return b64url_decode(token.split(".")[1]).decode()
