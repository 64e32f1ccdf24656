"""Table definitions (SQLAlchemy Core). Alembic migrations create them; this mirrors them.

Times are seconds since the epoch as doubles: the same in SQLite and PostgreSQL, and what the
domain code's clock speaks.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(150), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(100), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("role", sa.String(100), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("last_used_at", sa.Float, nullable=False),
    sa.Column("rotated_at", sa.Float, nullable=True),
    sa.Column("sealed_token", sa.LargeBinary, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.Column("revoke_reason", sa.String(64), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(512), nullable=True),
    sa.Column("jkt", sa.String(64), nullable=True),
    sa.Column("name", sa.String(255), nullable=True),
    sa.Index("ix_sessions_subject", "subject"),
    sa.Index("ix_sessions_expires_at", "expires_at"),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column(
        "session_id",
        sa.String(64),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("issued_at", sa.Float, nullable=False),
    sa.Index("ix_refresh_tokens_session_id", "session_id"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(255), nullable=True),
    sa.Column("session_id", sa.String(64), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(512), nullable=True),
    sa.Column("detail", sa.String(1024), nullable=True),
    sa.Index("ix_audit_events_at", "at"),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(128), primary_key=True),
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("sealed_private", sa.LargeBinary, nullable=False),
    sa.Column("public_jwk", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("activated_at", sa.Float, nullable=True),
    sa.Column("retire_at", sa.Float, nullable=True),
    sa.Index("ix_signing_keys_state", "state"),
    # At most one active key, whoever writes it: replicas starting together cannot both win.
    sa.Index(
        "uq_signing_keys_one_active",
        "state",
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    ),
    sa.Index(
        "uq_signing_keys_one_next",
        "state",
        unique=True,
        sqlite_where=sa.text("state = 'next'"),
        postgresql_where=sa.text("state = 'next'"),
    ),
)

# One row per revoked session, in commit order: what other replicas and verifiers follow so a
# revoked session's still-unexpired access tokens stop working everywhere. AUTOINCREMENT on
# SQLite, so an id is never reused after a purge (followers keep a cursor of ids).
REVOCATION_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid
revocations = sa.Table(
    "revocations",
    metadata,
    sa.Column("id", REVOCATION_ID, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("not_after", sa.Float, nullable=False),  # latest exp of the session's tokens
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_revocations_not_after", "not_after"),
    sqlite_autoincrement=True,
)
