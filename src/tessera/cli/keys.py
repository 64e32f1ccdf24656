"""`tessera keys`: the signing key ring."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.common import DataDir, fail, run_with, table, when
from tessera.keys import KeyInfo
from tessera.service import AuthService
from tessera.tokens import KeyMaterialError

app = typer.Typer(help="Manage signing keys.", no_args_is_help=True, add_completion=False)


@app.command("list")
def list_keys(data_dir: DataDir = None) -> None:
    """List signing keys: the active one, and older ones still verifying until they retire."""

    async def work(auth: AuthService) -> list[KeyInfo]:
        return auth.keys.info()

    rows = [
        [k.kid, k.alg, k.state, when(k.created_at), when(k.retire_at)]
        for k in run_with(data_dir, work)
    ]
    typer.echo(table(rows, ["KID", "ALG", "STATE", "CREATED", "RETIRES"]))


@app.command("rotate")
def rotate(data_dir: DataDir = None) -> None:
    """Make a new active signing key; the old one verifies until its tokens have expired."""

    async def work(auth: AuthService) -> str:
        return (await auth.keys.rotate()).kid

    typer.echo(f"new signing key {run_with(data_dir, work)}")


@app.command("import")
def import_key(pem_file: Path, data_dir: DataDir = None) -> None:
    """Bring an existing private key (PEM); it becomes the active signing key."""
    try:
        pem = pem_file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {pem_file}: {exc.strerror}") from None

    async def work(auth: AuthService) -> str:
        return (await auth.keys.import_pem(pem)).kid

    try:
        kid = run_with(data_dir, work)
    except (KeyMaterialError, ValueError) as exc:
        raise fail(str(exc)) from None
    typer.echo(f"imported signing key {kid}; it is now active")
