"""Settings come from TESSERA_* variables or tessera.toml, and bad values fail at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tessera import Settings


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_ACCESS_TTL", "5")
    monkeypatch.setenv("TESSERA_ALLOWED_ORIGINS", "https://a.example, https://b.example/")
    monkeypatch.setenv("TESSERA_COOKIE_SECURE", "false")
    monkeypatch.setenv("TESSERA_PREFIX", "api/auth/")
    settings = Settings()
    assert settings.access_ttl == 5
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.cookie_secure is False
    assert settings.prefix == "/api/auth"


def test_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tessera.toml").write_text('issuer = "https://id.example"\nleeway = 3\n')
    monkeypatch.setenv("TESSERA_LEEWAY", "7")
    settings = Settings()
    assert settings.issuer == "https://id.example"
    assert settings.leeway == 7  # the environment wins over the file


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("leeway", 31),
        ("leeway", -1),
        ("access_ttl", 0),
        ("refresh_idle_ttl", -5),
        ("algorithm", "none"),
        ("algorithm", "HS512"),
        ("prefix", "/"),
        ("client_id", "has space"),
        ("client_id", "a:b"),
        ("client_id", ""),
        ("issuer", "https://" + "i" * 249),  # 257: tokens the server's own policy refuses
        ("audience", "a" * 257),
        ("audience", ""),
        ("public_url", "auth.example.com"),
        ("public_url", "ftp://auth.example.com"),
        ("public_url", "https://auth.example.com/?x=1"),
        ("oauth_introspection_clients", "no-secret"),
        ("oauth_introspection_clients", "api:short"),
        ("oauth_introspection_clients", "bad id:" + "s" * 16),
        ("oauth_introspection_clients", f"api:{'s' * 16},api:{'t' * 16}"),
        ("oauth_introspection_clients", "tessera:" + "s" * 16),  # the first-party client's id
    ],
)
def test_bad_values_are_refused(name: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(**{name: value})  # type: ignore[arg-type]


def test_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url() == f"sqlite+aiosqlite:///{tmp_path / 'tessera.db'}"
    explicit = Settings(database_url="postgresql://u@localhost/db", secret="x" * 32)
    assert explicit.resolved_database_url() == "postgresql+asyncpg://u@localhost/db"


def test_a_shared_database_needs_a_shared_secret() -> None:
    with pytest.raises(ValidationError, match="TESSERA_SECRET"):
        Settings(database_url="postgresql://u@localhost/db")


def test_introspection_clients_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clients = "orders-api:s3cr3t-s3cr3t-s3cr3t, billing:" + "b" * 20
    monkeypatch.setenv("TESSERA_OAUTH_INTROSPECTION_CLIENTS", clients)
    monkeypatch.setenv("TESSERA_PUBLIC_URL", "https://auth.example.com/")
    settings = Settings()
    clients = {k: v.get_secret_value() for k, v in settings.oauth_introspection_clients.items()}
    assert clients == {"orders-api": "s3cr3t-s3cr3t-s3cr3t", "billing": "b" * 20}
    assert "s3cr3t" not in repr(settings)
    assert settings.public_url == "https://auth.example.com"
    assert settings.client_id == "tessera"
    assert settings.oauth_password_grant is False


def test_introspection_clients_as_a_toml_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tessera.toml").write_text(
        '[oauth_introspection_clients]\n"orders-api" = "0123456789abcdef"\n'
    )
    settings = Settings()
    assert settings.oauth_introspection_clients["orders-api"].get_secret_value() == (
        "0123456789abcdef"
    )


def test_redact_url_hides_user_info() -> None:
    from tessera.remote import redact_url

    assert redact_url("redis://:s3cret@cache:6379/0") == "redis://***@cache:6379/0"
    assert redact_url("postgresql://app:pw@db:5432/x?sslmode=require") == (
        "postgresql://***@db:5432/x?sslmode=require"
    )
    assert redact_url("https://idp.example/jwks.json") == "https://idp.example/jwks.json"
    assert "s3cret" not in redact_url("redis://u:s3cret@[::1")


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cretpw@127.0.0.1:notaport/0",  # port not a number
        "redis://:s3cretpw@127.0.0.1:99999/0",  # port out of range
        "redis://:s3cretpw@127.0.0.1:6379/abc",  # database number not a number
        "redis://:s3cretpw@",  # no host
        "redis://:s3cretpw@[::1",  # unclosed bracket
        "redis://:s3cretpw@cache/0?socket_timeout=abc",  # an option redis-py refuses
        "redis//:s3cretpw@cache",  # no scheme
        "http://:s3cretpw@cache:6379",  # not Redis
        "unix://:s3cretpw@/run/redis.sock",  # the rate-limit store spells it redis+unix
        "redis+unix://:s3cretpw@",  # no socket path
    ],
)
def test_malformed_redis_urls_are_refused_without_repeating_them(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(redis_url=url)
    assert "redis_url" in str(refused.value) and "expected redis://" in str(refused.value)
    assert "s3cretpw" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:s3cretpw@db:notaport/tessera",
        "postgresql://app:s3cretpw@db:70000/tessera",
        "postgresql://app:s3cretpw@[::1/tessera",
        "mysql://app:s3cretpw@db/tessera",  # no driver for it
        "sqlite//tessera.db",
    ],
)
def test_malformed_database_urls_are_refused_without_repeating_them(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(database_url=url, secret="x" * 32)
    assert "database_url" in str(refused.value) and "expected sqlite:///" in str(refused.value)
    assert "s3cretpw" not in str(refused.value)


def test_working_url_forms_are_accepted() -> None:
    for redis_url in (
        "redis://cache",
        "rediss://tessera:p%40ss@cache.example:6380/2",
        "redis+unix:///run/redis.sock?db=3",
    ):
        assert Settings(redis_url=redis_url).redis_url == redis_url
    assert Settings(redis_url="  ").redis_url is None  # blank (as in a compose file): unset
    for database_url in (
        "sqlite:///tessera.db",
        "sqlite+aiosqlite:////var/lib/tessera/tessera.db",
        "postgres://app:pw@db/tessera",
        "postgresql+asyncpg://app:pw@db:5433/tessera?ssl=require",
    ):
        assert Settings(database_url=database_url, secret="x" * 32).database_url == database_url
