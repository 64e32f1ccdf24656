"""The `tessera` command line."""

from tessera.cli.main import app, main

__all__ = ["app", "main"]
