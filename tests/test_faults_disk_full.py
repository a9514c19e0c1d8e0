"""A full disk and a read-only data folder, made real for the real server (`python -m bot serve`).

The disk is made full for the running server by lowering its file size limit (RLIMIT_FSIZE, with
`prlimit` on its pid, so start-up has passed): every write past the limit fails with EFBIG, as one
on a full disk fails with ENOSPC. The employee must get the phone number in their language, the
log one line per failed turn and no traceback, and the same answer must work once the limit is
raised again, in the same process. A read-only data folder is a read-only bind mount in a mount
namespace of the server's own, so nothing outside the test sees it.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.local.routes import employee_id
from adapters.signed_links import SignedLinks
from adapters.storage.embedded.cases import CaseStore
from tests.servers import local_cookies
from tests.test_case_store import new_case
from tests.test_faults_kill import START_WITHIN, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parent.parent
MONDAY_MORNING = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
PROBLEM = {"da": "min konto er låst", "en": "my account is locked"}  # sure, so the case is made at once
NOT_SAVED = {"da": "Beklager, jeg kunne ikke gemme din sag lige nu", "en": "Sorry, I could not save your case just now"}
PHONE = "+45 7021 1813"  # the provider's number in bot/defaults.toml
EARLIER_CASES = 20  # makes the case file larger than CASE_FILE_LIMIT, while a conversation stays below it
CASE_FILE_LIMIT = 8 * 1024


class Server:
    """`python -m bot serve` on `data`, its log read through a pipe (a pipe has no file size limit)."""

    def __init__(self, data: Path, command_prefix: tuple[str, ...] = ()) -> None:
        self.data = data
        self.port = free_port()
        env = {
            **os.environ,
            "PORT": str(self.port),
            "SUPPORTBOT_DATA": str(data),
            "SUPPORTBOT_NOW": MONDAY_MORNING.isoformat(),
        }
        for name in (
            "SLACK_BOT_TOKEN",
            "SLACK_SIGNING_SECRET",
            "SLACK_CLIENT_ID",
            "MicrosoftAppId",
            "SUPPORTBOT_CONFIG",
        ):
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [*command_prefix, sys.executable, "-m", "bot", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_WITHIN
        while not any("listening on" in line for line in self.lines):
            assert self.proc.poll() is None, "the server exited:\n" + self.log()
            assert time.monotonic() < deadline, f"the server did not start within {START_WITHIN} s:\n" + self.log()
            time.sleep(0.05)

    def log(self) -> str:
        return "\n".join(self.lines)

    def limit_file_size(self, size: int) -> None:
        """Lower (or raise, with RLIM_INFINITY) the running server's file size limit."""
        hard = resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE)[1]
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (size, hard))

    def say(self, user: str, language: str, text: str) -> list[dict[str, Any]]:
        """One chat turn of employee `user`, as their browser sends it; the bot's replies."""
        body = {"name": user.title(), "lang": language, "text": text}
        return list(self._call(user, "/local/api/turn", body)["replies"])

    def feed(self, user: str) -> list[dict[str, Any]]:
        """Everything employee `user`'s chat shows."""
        return list(self._call(user, "/local/api/messages")["entries"])

    def _call(self, user: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON answer of the local API as employee `user`'s browser (an HTTP error fails the test)."""
        headers = local_cookies(SignedLinks.for_data(self.data, os.environ), user=user)
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.load(response))

    def stop(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(timeout=20) == 0, self.log()
        self._reader.join(timeout=5)


@pytest.fixture
def server(tmp_path: Path) -> Any:
    started: list[Server] = []

    def start(data: Path | None = None, command_prefix: tuple[str, ...] = ()) -> Server:
        started.append(Server(data or tmp_path / "data", command_prefix))
        return started[-1]

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()


def disk_full_lines(server: Server) -> list[str]:
    return [line for line in server.log().splitlines() if "disk full" in line]


def cases_on_disk(data: Path) -> dict[int, str]:
    store = CaseStore(data / "cases", read_only=True)
    try:
        return {case.number: case.reporter.user_id for case in store.find()}
    finally:
        store.close()


def temp_files(data: Path) -> list[Path]:
    return [path for path in data.rglob(".*") if path.name.endswith(".tmp")]


def test_a_case_file_the_disk_cannot_take_gets_the_phone_number_and_the_same_answer_works_later(
    tmp_path: Path, server: Any
) -> None:
    data = tmp_path / "data"
    earlier = CaseStore(data / "cases")
    for n in range(EARLIER_CASES):  # a year ago: on-call's sweep leaves them alone
        earlier.create(new_case(f"an earlier problem {n} " * 10), now=MONDAY_MORNING - timedelta(days=365))
    earlier.close()
    bot = server(data)
    bot.wait_until_listening()

    bot.limit_file_size(CASE_FILE_LIMIT)  # conversations and the chat still fit; the case file does not
    for user, language in (("eva", "da"), ("john", "en")):
        replies = bot.say(user, language, PROBLEM[language])
        assert len(replies) == 1 and replies[0]["text"].startswith(NOT_SAVED[language]), replies
        assert PHONE in replies[0]["text"] and not replies[0]["case"]
    assert bot.proc.poll() is None, "the server died of the file size limit (SIGXFSZ) instead of failing the write"
    lines = disk_full_lines(bot)
    assert len(lines) == 2, bot.log()
    assert all(str(data / "cases") in line and "ERROR" in line for line in lines), lines
    assert "Traceback" not in bot.log()
    assert temp_files(data) == []
    assert len(cases_on_disk(data)) == EARLIER_CASES

    bot.limit_file_size(resource.RLIM_INFINITY)  # room again: the same answers work, in the same process
    eva = bot.say("eva", "da", PROBLEM["da"])
    john = bot.say("john", "en", PROBLEM["en"])
    first = 10001 + EARLIER_CASES  # no number was used up by the failed writes
    assert [eva[0]["case"], john[0]["case"]] == [str(first), str(first + 1)]
    assert cases_on_disk(data)[first] == employee_id("eva")
    assert "Traceback" not in bot.log()
    bot.stop()


def test_a_disk_that_takes_no_write_at_all_keeps_the_chat_and_the_conversation(tmp_path: Path, server: Any) -> None:
    data = tmp_path / "data"
    bot = server(data)
    bot.wait_until_listening()

    bot.limit_file_size(0)
    for _ in range(3):
        replies = bot.say("eva", "da", PROBLEM["da"])
        assert len(replies) == 1 and replies[0]["text"].startswith(NOT_SAVED["da"]) and PHONE in replies[0]["text"]
    turn_lines = [line for line in disk_full_lines(bot) if "not saved" in line]
    assert len(turn_lines) == 3 and all(str(data / "conversations") in line for line in turn_lines), bot.log()
    assert len(disk_full_lines(bot)) == 4, bot.log()  # and one when the chat began to live in memory
    assert "Traceback" not in bot.log()
    assert temp_files(data) == []

    bot.limit_file_size(resource.RLIM_INFINITY)
    replies = bot.say("eva", "da", PROBLEM["da"])
    assert replies[0]["case"] == "10001"
    assert "the local chat is saved again" in bot.log()
    bot.stop()

    again = server(data)  # what the chat showed while the disk was full was written once there was room
    again.wait_until_listening()
    shown = [entry["text"] for entry in again.feed("eva")]
    assert sum(text.startswith(NOT_SAVED["da"]) for text in shown) == 3 and shown.count(PROBLEM["da"]) == 4, shown
    again.stop()


def _can_mount_privately() -> str:
    """Why a read-only bind mount in a private mount namespace cannot be made here ("" when it can)."""
    if shutil.which("unshare") is None:
        return "the unshare command is not installed"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a mount namespace here ({probe.stderr.strip()}); it needs CAP_SYS_ADMIN"
    return ""


@pytest.mark.skipif(bool(_can_mount_privately()), reason=_can_mount_privately() or "n/a")
def test_a_read_only_data_folder_stops_the_server_with_one_line_naming_it(tmp_path: Path, server: Any) -> None:
    data = tmp_path / "data"
    data.mkdir()
    read_only = (
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"',
        str(data),
    )
    bot = server(data, read_only)
    assert bot.proc.wait(timeout=30) == 2, bot.log()
    bot._reader.join(timeout=5)
    problem = [line for line in bot.lines if line.startswith("supportbot:")]
    assert problem == [
        f"supportbot: {data}: the data folder is not writable (Read-only file system); mount it read-write and give "
        "this user write access to it, or set SUPPORTBOT_DATA to a folder it can write"
    ], bot.log()
    assert "Traceback" not in bot.log()
