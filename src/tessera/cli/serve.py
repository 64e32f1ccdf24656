"""`tessera serve`: the standalone server on the embedded default (SQLite in the data dir), in
one process or, with `--workers N`, in N processes on one port (`tessera.http.workers`)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated

import typer

from tessera.cli.common import DataDir, fail, load_settings
from tessera.http.docs import vendor_dir
from tessera.http.mount import Tessera
from tessera.http.server import bind_socket, build_server, raise_fd_limit, url_of
from tessera.http.workers import Supervisor
from tessera.logs import configure as configure_logging
from tessera.store import UserExists

DEMO_USER = "demo"
DEMO_ACCESS_TTL = 30.0


async def _demo_user(auth: Tessera) -> str:
    """Create the demo user, or give it a fresh password: either way, print one that works."""
    password = secrets.token_urlsafe(12)
    try:
        await auth.users.add(DEMO_USER, password)
    except UserExists:
        await auth.users.set_password(DEMO_USER, password)
    return password


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8000,
    data_dir: DataDir = None,
    demo: Annotated[bool, typer.Option(help="Create a demo user and print its password.")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="Processes answering on the port (default: $TESSERA_WORKERS or 1). About one "
            "per core; on SQLite, writes still go one at a time (see docs/deploy.md).",
        ),
    ] = None,
) -> None:
    """Run the auth server."""
    raise_fd_limit()  # before anything sizes itself on it
    settings = load_settings(data_dir)
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    if demo and "access_ttl" not in settings.model_fields_set:
        # Short enough to watch a refresh happen in the demo page within a minute.
        settings = settings.model_copy(update={"access_ttl": DEMO_ACCESS_TTL})
    if settings.api_docs:
        try:
            vendor_dir()
        except RuntimeError as exc:
            raise fail(str(exc)) from None
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    url = url_of(sock)
    auth = Tessera(settings)

    async def prepare() -> None:
        """What happens once, whatever the number of workers: migrate, create the first
        signing key, the demo user; then say where to go."""
        await auth.start()
        typer.echo(f"Tessera listening on {url}   (open it in a browser for the demo app)")
        typer.echo(f"  data dir: {settings.data_dir.resolve()}")
        if settings.workers > 1:
            typer.echo(f"  workers:  {settings.workers} processes on this port")
        typer.echo(f"  decoder:  {url}/decoder")
        docs = f"{url}/docs" if settings.api_docs else "off (TESSERA_API_DOCS=true)"
        typer.echo(f"  JWKS:     {url}/.well-known/jwks.json   API docs: {docs}")
        if demo:
            password = await _demo_user(auth)
            typer.echo(f"  demo login: username '{DEMO_USER}', password '{password}'")
            typer.echo(f"  access tokens last {settings.access_ttl:g} s: watch them refresh")
            typer.echo(
                f"  try: curl -s {url}{settings.prefix}/login -H 'content-type: application/json'"
                f' -d \'{{"username":"{DEMO_USER}","password":"{password}","transport":"body"}}\''
            )
        elif not await auth.users.list():
            where = f" --data-dir {settings.data_dir}" if data_dir else ""
            typer.echo(
                f"  no users yet: create one with `tessera users add NAME{where}`"
                " (or restart with --demo)"
            )

    async def main() -> None:
        await prepare()
        configure_logging(settings.log_format, log_level)
        server = build_server(auth, log_level=log_level)
        await server.serve(sockets=[sock])

    async def prepare_only() -> None:
        try:
            await prepare()
        finally:
            await auth.close()  # the workers open their own

    try:
        if settings.workers == 1:
            asyncio.run(main())
            return
        asyncio.run(prepare_only())
        configure_logging(settings.log_format, log_level)
        code = Supervisor(settings, sock, log_level).run()
    except KeyboardInterrupt:
        return
    finally:
        sock.close()
    if code:
        raise typer.Exit(code)
