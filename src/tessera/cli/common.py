"""What every command shares: settings from the environment plus `--data-dir`, a started
service, password input that never comes from argv, and error output (which never shows a
traceback, nor the password of a configured URL)."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from tessera.errors import Unavailable
from tessera.logs import redact
from tessera.service import AuthService
from tessera.settings import Settings

T = TypeVar("T")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $TESSERA_DATA_DIR or ./.tessera)."),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def load_settings(data_dir: Path | None) -> Settings:
    """The settings, or a clean exit naming each bad one (values are not repeated: a URL may
    carry a password)."""
    try:
        return Settings(data_dir=data_dir) if data_dir is not None else Settings()
    except ValidationError as exc:
        problems = "; ".join(_setting_problem(e["loc"], e["msg"]) for e in exc.errors())
        raise fail(f"bad settings: {problems}") from None


def _setting_problem(loc: tuple[int | str, ...], message: str) -> str:
    message = message.removeprefix("Value error, ")  # never holds the value (see Settings)
    if not loc:  # a check across several settings names them itself
        return message
    return f"TESSERA_{'_'.join(str(p) for p in loc).upper()}: {message}"


# What a command can meet outside its own input: an unreachable or refusing database, files
# or directories with unsafe permissions. Shown as one line, not a traceback.
FAILURES = (OSError, SQLAlchemyError, Unavailable)


def describe_failure(exc: BaseException) -> str:
    """One line for `exc`, with the user-info of any URL in it hidden."""
    if isinstance(exc, Unavailable) and exc.__cause__ is not None:
        exc = exc.__cause__  # the store's `DatabaseUnavailable`: say what the driver said
    if isinstance(exc, DBAPIError):  # the driver's own message, without SQL or parameters
        text = f"the database: {exc.orig}"
    elif isinstance(exc, PermissionError):  # ours say what is wrong and what to do
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact((text.splitlines() or [type(exc).__name__])[0])


@asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[AuthService]:
    auth = AuthService(settings)
    try:
        await auth.start()
        yield auth
    finally:
        await auth.close()


def run_with(data_dir: Path | None, work: Callable[[AuthService], Awaitable[T]]) -> T:
    """Start a service on the configured database, run `work`, close."""
    settings = load_settings(data_dir)

    async def go() -> T:
        async with started(settings) as auth:
            return await work(auth)

    return asyncio.run(go())


def read_password(confirm: bool = True) -> str:
    """From a prompt when stdin is a terminal, else the first line of stdin."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Repeat password: ") != password:
        raise fail("passwords do not match")
    return password


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)
