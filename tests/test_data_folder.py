"""One bot per data folder: a second `bot serve` is refused in one line, the operator's reads work beside it."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from pathlib import Path

import aiohttp
import pytest

from adapters.storage.embedded import EmbeddedStorage
from tests.commands import bot_command
from tests.test_faults_kill import ROOT, SATURDAY_NIGHT, Employee, Server, turn


def bot(data: Path, *args: str, port: int = 0) -> subprocess.CompletedProcess[str]:
    return bot_command(*args, env={"SUPPORTBOT_DATA": str(data), "PORT": str(port)}, cwd=ROOT)


def test_a_second_server_is_refused_and_the_cases_command_reads_beside_the_first(tmp_path: Path) -> None:
    server = Server(tmp_path, SATURDAY_NIGHT)
    server.launch()
    try:
        who = Employee("anna", ["min konto er låst og jeg kan ikke logge på"])

        async def report() -> None:
            async with aiohttp.ClientSession() as session:
                while not who.shown:
                    assert await turn(session, server, who)

        asyncio.run(report())
        number = next(iter(who.shown))
        assert server.proc is not None
        second = bot(server.data, "serve", port=0)
        assert second.returncode != 0
        lines = second.stderr.strip().splitlines()
        assert lines[-1].endswith(
            f"{server.data}: the data folder is in use by another bot (process {server.proc.pid}); "
            "stop it first, or set SUPPORTBOT_DATA to another folder"
        ), second.stderr
        assert "Traceback" not in second.stderr

        listed = bot(server.data, "cases", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert number in listed.stdout
        shown = bot(server.data, "cases", "show", number)
        assert shown.returncode == 0 and number in shown.stdout
        assert bot(server.data, "oncall").returncode == 0
    finally:
        server.stop()


async def test_a_single_file_of_an_earlier_version_is_named_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    earlier = tmp_path / "slack" / "installations.json"
    earlier.parent.mkdir(parents=True)
    earlier.write_text('{"_default": {}}', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        storage = EmbeddedStorage(tmp_path)
    await storage.close()
    assert f"{earlier} was written by an earlier version and is not read any more" in caplog.text
    assert earlier.read_text(encoding="utf-8") == '{"_default": {}}'
