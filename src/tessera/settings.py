"""All configuration: `TESSERA_*` environment variables, or a TOML file.

Durations are in seconds. Any positive value is accepted, so demos and tests can use a few
seconds; only the leeway has an upper bound (RFC 8725 asks for a small one).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, PositiveFloat, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tessera.connection_urls import check_database_url, check_redis_url
from tessera.revocations.revoked import MAX_LEEWAY, MAX_REVOCATION_WAIT

Algorithm = Literal["RS256", "ES256", "EdDSA", "HS256"]
DPoPAlgorithm = Literal["ES256", "ES384", "EdDSA", "Ed25519", "RS256", "PS256"]
DPOP_ALGORITHMS: tuple[DPoPAlgorithm, ...] = ("ES256", "ES384", "EdDSA", "RS256", "PS256")

# An OAuth client id: no ':' (it travels in HTTP Basic), no spaces, nothing that needs quoting.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9._~-]{1,128}$"
MIN_CLIENT_SECRET = 16


class Settings(BaseSettings):
    """Tessera's settings. Build one in code, or let it read `TESSERA_*` and `tessera.toml`."""

    model_config = SettingsConfigDict(
        env_prefix="TESSERA_",
        toml_file="tessera.toml",
        extra="ignore",
        validate_default=True,
        # A refused value is never repeated in the error: URLs and secrets carry passwords.
        hide_input_in_errors=True,
    )

    data_dir: Path = Path(".tessera")
    database_url: str | None = Field(
        default=None,
        description="sqlite:///… (default: tessera.db in the data dir) or postgresql://…",
        repr=False,  # may carry a password
    )
    redis_url: str | None = Field(
        default=None, description="redis://… to share rate limits between replicas", repr=False
    )
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_statement_timeout: PositiveFloat = 5.0
    # At most 256 characters, as every string the server's own token policy accepts.
    issuer: str = Field(default="tessera", min_length=1, max_length=256)
    audience: str = Field(default="tessera", min_length=1, max_length=256)
    algorithm: Algorithm = "RS256"
    secret: SecretStr | None = Field(
        default=None, description="key-encryption secret; default: a generated file in the data dir"
    )
    access_ttl: PositiveFloat = 600.0
    refresh_idle_ttl: PositiveFloat = 14 * 86400.0
    session_max_age: PositiveFloat = 30 * 86400.0
    reuse_grace: float = Field(default=10.0, ge=0)
    leeway: float = Field(default=10.0, ge=0, le=MAX_LEEWAY)
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cookie_secure: bool = True
    prefix: str = "/auth"
    jwks_max_age: PositiveFloat = 300.0
    max_token_lifetime: PositiveFloat = Field(
        default=86400.0, description="reject access tokens whose exp - iat is longer than this"
    )
    max_token_bytes: int = Field(default=8192, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description="request line and headers larger than this get 431 (`serve` only)",
    )
    request_timeout: PositiveFloat = Field(
        default=10.0,
        description="seconds a request has to arrive in full, body included (`serve` only)",
    )
    login_limit_per_user: int = Field(
        default=10, gt=0, description="failed logins per username from one address, per window"
    )
    login_limit_per_user_total: int = Field(
        default=100, gt=0, description="failed logins per username from all addresses, per window"
    )
    login_limit_per_ip: int = Field(
        default=50, gt=0, description="failed logins per client address, per window"
    )
    login_max_in_flight: int = Field(
        default=0, ge=0, description="password checks in progress at once (0: four per CPU)"
    )
    login_max_in_flight_per_ip: int = Field(
        default=2, gt=0, description="password checks in progress at once for one address"
    )
    login_limit_window: PositiveFloat = 900.0
    refresh_limit: int = Field(default=60, gt=0, description="refreshes per refresh token")
    refresh_limit_window: PositiveFloat = 60.0
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    key_reload_interval: PositiveFloat = 10.0
    key_rotation_interval: PositiveFloat = Field(
        default=30 * 86400.0, description="automatic signing-key rotation period"
    )
    key_prepublish: PositiveFloat = Field(
        default=900.0, description="a new key is in the JWKS this long before it signs"
    )
    revocation_poll_interval: PositiveFloat = Field(
        default=0.5,
        description="how often each replica re-reads published revocations (besides NOTIFY)",
    )
    revocation_max_wait: float = Field(
        default=25.0,
        gt=0,
        le=MAX_REVOCATION_WAIT,
        description="longest a revocation-feed long-poll is held (keep below proxy timeouts)",
    )
    revocation_max_waiters: int = Field(
        default=512,
        gt=0,
        description="revocation-feed long-polls held at once (at most a quarter of the "
        "open-file limit); past it they are answered at once",
    )
    revocation_max_waiters_per_client: int = Field(
        default=8, gt=0, description="the same, per client address (IPv6: per /64)"
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=256,
        description="processes `serve` runs on its one port (about one per core; see "
        "docs/deploy.md)",
    )
    gc_interval: PositiveFloat = Field(
        default=300.0, description="how often `serve` purges dead sessions and old audit rows"
    )
    gc_keep: float = Field(
        default=86400.0, ge=0, description="keep ended sessions this long before purging"
    )
    audit_retention: PositiveFloat = 90 * 86400.0
    gc_batch: int = Field(default=1000, gt=0)
    log_format: Literal["text", "json"] = "text"
    trust_forwarded: bool = Field(
        default=False, description="take the client IP from X-Forwarded-For (behind a proxy only)"
    )
    client_id: str = Field(
        default="tessera",
        pattern=CLIENT_ID_PATTERN,
        description="the first-party OAuth client every session belongs to (RFC 9068 client_id)",
    )
    public_url: str | None = Field(
        default=None,
        description="base URL clients reach this server at, for the OAuth metadata; "
        "default: the URL each request came in on",
    )
    api_docs: bool = Field(
        default=False, description="serve Swagger UI at /docs (`serve`; needs tessera[docs])"
    )
    dpop: Literal["optional", "required", "off"] = Field(
        default="optional",
        description="DPoP (RFC 9449): bind a session to the client's key when its login carries "
        "a proof (optional), refuse logins without one (required), or ignore proofs (off)",
    )
    dpop_algorithms: Annotated[list[DPoPAlgorithm], NoDecode] = Field(
        default_factory=lambda: list(DPOP_ALGORITHMS),
        description="algorithms accepted for DPoP proofs (asymmetric only)",
    )
    dpop_require_nonce: bool = Field(
        default=False,
        description="token requests must carry a server DPoP nonce (else one is asked for "
        "only when a proof's iat is out of range: a client clock that is off)",
    )
    dpop_proof_max_age: PositiveFloat = Field(
        default=60.0, le=600.0, description="seconds a DPoP proof is accepted after its iat"
    )
    oauth_password_grant: bool = Field(
        default=False, description="allow grant_type=password at /oauth/token (first-party apps)"
    )
    oauth_introspection_clients: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict,
        description="id:secret pairs (comma-separated) allowed to call /oauth/introspect",
    )

    @field_validator("dpop_algorithms", mode="before")
    @classmethod
    def _split_dpop_algorithms(cls, value: object) -> object:
        if isinstance(value, str):  # from the environment: "ES256,EdDSA"
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("dpop_algorithms")
    @classmethod
    def _some_dpop_algorithm(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one DPoP algorithm (or set TESSERA_DPOP=off)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("oauth_introspection_clients", mode="before")
    @classmethod
    def _parse_clients(cls, value: object) -> object:
        """`id:secret,id:secret` (environment), a list of such strings, or a TOML table."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            pairs: dict[str, object] = {}
            for entry in value:
                if not isinstance(entry, str) or ":" not in entry:
                    raise ValueError("each introspection client is written id:secret")
                client_id, secret = entry.split(":", 1)
                if client_id.strip() in pairs:
                    raise ValueError(f"introspection client {client_id.strip()!r} appears twice")
                pairs[client_id.strip()] = secret
            return pairs
        return value

    @field_validator("oauth_introspection_clients")
    @classmethod
    def _check_clients(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for client_id, secret in value.items():
            if not re.fullmatch(CLIENT_ID_PATTERN, client_id):
                raise ValueError(f"introspection client id {client_id[:40]!r} is not valid")
            if len(secret.get_secret_value()) < MIN_CLIENT_SECRET:
                raise ValueError(
                    f"the secret of introspection client {client_id!r} needs at least "
                    f"{MIN_CLIENT_SECRET} characters"
                )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        """A malformed URL fails here, at start-up; blank means unset."""
        return check_database_url(value.strip()) if value and value.strip() else None

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        return check_redis_url(value.strip()) if value and value.strip() else None

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("public_url must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("public_url cannot have a query or a fragment")
        return value.strip().rstrip("/")

    @field_validator("prefix")
    @classmethod
    def _normalise_prefix(cls, value: str) -> str:
        value = "/" + value.strip("/")
        if value == "/":
            raise ValueError("the auth prefix cannot be the root path")
        return value

    @model_validator(mode="after")
    def _check_lifetimes(self) -> Settings:
        if self.access_ttl > self.max_token_lifetime:
            raise ValueError("access_ttl must not exceed max_token_lifetime")
        if self.key_prepublish < self.jwks_max_age:
            raise ValueError("key_prepublish must cover at least one JWKS cache period")
        if self.key_prepublish >= self.key_rotation_interval:
            raise ValueError("key_prepublish must be shorter than key_rotation_interval")
        if self.client_id in self.oauth_introspection_clients:
            raise ValueError("an introspection client cannot share the first-party client_id")
        if not self.embedded and self.secret is None:
            raise ValueError(
                "TESSERA_SECRET is required with a shared database: every replica must open "
                "the same sealed keys (a per-machine secret file cannot be shared)"
            )
        return self

    @property
    def embedded(self) -> bool:
        """SQLite in one process: the default, where a generated secret file is enough."""
        return self.resolved_database_url().startswith("sqlite")

    def resolved_database_url(self) -> str:
        """The database URL with the async driver named: what SQLAlchemy is given."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'tessera.db').resolve()}"
        if url.startswith("sqlite:"):
            return "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
        if url.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        return url
