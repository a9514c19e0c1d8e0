"""`supportbot db status|upgrade`: the PostgreSQL schema's migrations, applied and pending.

Every replica applies the pending ones at start-up anyway (under an advisory lock); `upgrade` does
it ahead of a deploy, and `status` shows where a database stands. Only for `SUPPORTBOT_DATABASE_URL`.
"""

from __future__ import annotations

import argparse

from adapters.storage import DATABASE_URL, database_url
from adapters.storage.postgres import migrations
from adapters.storage.postgres.database import Database
from bot.config import Settings
from bot.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("status", "upgrade"), help="show the migrations, or apply the pending ones")


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = database_url()
    if url is None:
        raise ConfigError(f"environment: {DATABASE_URL} is not set; the embedded engine has no schema to migrate")
    db = Database(url, pool_size=1)
    try:
        if args.action == "upgrade":
            applied = migrations.upgrade_now(db)
            for migration in applied:
                print(f"applied {migration.version:04d} {migration.name}")
            print(f"{db.where}: up to date" if applied else f"{db.where}: already up to date")
            return 0
        status = migrations.status_now(db)
    finally:
        db.close()
    for version, name, at in status.applied:
        print(f"{version:04d} {name}: applied {at:%Y-%m-%d %H:%M}")
    for migration in status.pending:
        print(f"{migration.version:04d} {migration.name}: pending")
    for version in status.unknown:
        print(f"{version:04d}: applied by a newer version of the bot")
    print(f"{db.where}: {len(status.pending)} pending" if status.pending else f"{db.where}: up to date")
    return 0
