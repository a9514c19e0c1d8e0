"""`supportbot db status|upgrade` on a real PostgreSQL."""

from __future__ import annotations

import subprocess

from tests.commands import bot_command
from tests.pg_cluster import free_port


def db(action: str, url: str | None) -> subprocess.CompletedProcess[str]:
    return bot_command("db", action, env={"SUPPORTBOT_DATABASE_URL": url or ""})


def test_status_shows_pending_migrations_and_upgrade_applies_them_once(postgres_url: str) -> None:
    before = db("status", postgres_url)
    assert before.returncode == 0, before.stderr
    assert "0001 init: pending" in before.stdout and "0003 overrides: pending" in before.stdout
    assert "3 pending" in before.stdout
    upgraded = db("upgrade", postgres_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "applied 0001 init" in upgraded.stdout and "applied 0003 overrides" in upgraded.stdout
    assert "up to date" in upgraded.stdout
    assert "already up to date" in db("upgrade", postgres_url).stdout
    after = db("status", postgres_url)
    assert "0003 overrides: applied" in after.stdout and "up to date" in after.stdout
    assert "postgres@" not in after.stdout + upgraded.stdout, "no user name (or password) is printed"


def test_without_a_database_url_it_says_so_in_one_line() -> None:
    done = db("status", None)
    assert done.returncode == 2 and "SUPPORTBOT_DATABASE_URL is not set" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_database_that_cannot_be_reached_is_named_in_one_line() -> None:
    done = db("status", f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    assert done.returncode == 2 and "cannot be reached" in done.stderr and "/nowhere" in done.stderr
    assert "Traceback" not in done.stderr
