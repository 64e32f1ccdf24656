"""Create a new Alembic revision by comparing the table definitions with a database at head.

Usage: make migration m="what changed"
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import Connection

from tessera.store import SQLStore
from tessera.store.migrate import alembic_config, upgrade


async def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        store = SQLStore.from_url(f"sqlite+aiosqlite:///{Path(scratch) / 'head.db'}")
        await upgrade(store.engine)

        def revise(connection: Connection) -> None:
            command.revision(alembic_config(connection), message=message, autogenerate=True)

        async with store.engine.begin() as conn:
            await conn.run_sync(revise)
        await store.close()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].strip():
        sys.exit('usage: make migration m="what changed"')
    asyncio.run(main(sys.argv[1]))
