"""A PostgreSQL cluster of our own in one folder, from the binaries on this machine.

For the tests (a throwaway cluster per test session, a fresh database per test) and for `make pg`
(a cluster in `./.pg` to try several replicas). `initdb` refuses to run as root, so as root every
server command runs as the `postgres` user, which then owns the folder. The server listens on
127.0.0.1 only, on the port given, with its unix socket inside the folder (never in
/var/run/postgresql, which another server may use), and trusts local connections: for development
and tests only.

    python -m tests.pg_cluster start .pg 5433    # prints the SUPPORTBOT_DATABASE_URL to use
    python -m tests.pg_cluster stop .pg
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
USER = "postgres"
HOW_TO_ENABLE = (
    "PostgreSQL's server binaries were not found in /usr/lib/postgresql/*/bin; "
    "install Debian's `postgresql` package (`make test` does it when run as root) to run these tests"
)


def find_binaries() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, PostgreSQL 15 first; None when there is none."""
    for folder in BIN_DIRS:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """The cluster in `folder` (its data in `folder/data`), served on 127.0.0.1:`port`."""

    def __init__(self, folder: Path, port: int, *, bin_dir: Path | None = None, durable: bool = True) -> None:
        found = bin_dir or find_binaries()
        if found is None:
            raise RuntimeError(HOW_TO_ENABLE)
        self.bin_dir = found
        self.folder = Path(folder).absolute()
        self.port = port
        self.durable = durable  # the tests' throwaway cluster skips fsync: a crash of the machine loses it anyway
        self._as_user = os.geteuid() == 0

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Create the cluster when the folder has none yet, then start it and wait until it takes connections."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._as_user:
            shutil.chown(self.folder, USER, USER)
        if not (self.data / "PG_VERSION").is_file():
            self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w", "start")

    def stop(self, *, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        """Create the database `name` (nothing when it exists); its URL."""
        import psycopg  # the tests' and `make pg`'s venv has it; importing this module needs nothing

        with psycopg.connect(self.url(), autocommit=True) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def running(self) -> bool:
        status = subprocess.run(self._command("pg_ctl", "-D", str(self.data), "status"), capture_output=True)
        return status.returncode == 0

    def remove(self) -> None:
        """Stop the server at once and delete the folder (the tests' throwaway cluster)."""
        if self.running():
            self.stop(mode="immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        return ["runuser", "-u", USER, "--", *command] if self._as_user else command

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(self._command(program, *args), capture_output=True, text=True, cwd=self.folder)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")


def main(argv: list[str]) -> int:
    """`start FOLDER [PORT]` or `stop FOLDER` (the folder's cluster, for `make pg`)."""
    if len(argv) < 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.pg_cluster start FOLDER [PORT] | stop FOLDER", file=sys.stderr)
        return 2
    port = int(argv[2]) if len(argv) > 2 else 5433
    try:
        cluster = Cluster(Path(argv[1]), port)
        if argv[0] == "stop":
            cluster.stop()
            return 0
        if not cluster.running():
            cluster.start()
        url = cluster.create_database("supportbot")
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"PostgreSQL runs in {cluster.folder} on 127.0.0.1:{port}; to use it:")
    print(f"export SUPPORTBOT_DATABASE_URL={url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
