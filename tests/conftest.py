"""Shared fixtures. Tests never reach the internet: every platform is a local fake on 127.0.0.1."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.pg_cluster import HOW_TO_ENABLE, Cluster, find_binaries, free_port
from tests.slack.fake_slack import FakeSlack

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the whole test session, or a skip saying how to get one.

    With `SUPPORTBOT_REQUIRE_POSTGRES=1` (CI) a machine without PostgreSQL fails instead of skipping.
    """
    if find_binaries() is None:
        if os.environ.get("SUPPORTBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"SUPPORTBOT_REQUIRE_POSTGRES=1 but {HOW_TO_ENABLE}")
        pytest.skip(HOW_TO_ENABLE)
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as `postgres`.
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="supportbot-pg-")), free_port(), durable=False)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> str:
    """The URL of a fresh, empty database of its own for one test."""
    return postgres_cluster.create_database(f"test_{os.getpid()}_{next(_databases)}")


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder for commands run in this process (`adapters.cli.main`), with no config or language
    of the developer's shell: the defaults, as on a fresh install."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUPPORTBOT_CONFIG", raising=False)
    monkeypatch.delenv("SUPPORTBOT_LANGUAGE", raising=False)
    monkeypatch.setenv("SUPPORTBOT_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API on 127.0.0.1, for any test that talks to Slack."""
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()
