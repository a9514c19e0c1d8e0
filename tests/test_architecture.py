"""The house rules that keep the core portable: imports point inwards and rules never read the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = sorted([*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("dialogs").rglob("*.py")])
FORBIDDEN = {"aiohttp", "botbuilder", "slack_bolt", "slack_sdk", "prometheus_client", "adapters"}
# The core does not know the conversation built on it either.
FORBIDDEN_IN_BOT = FORBIDDEN | {"dialogs"}
# The entry point of `python -m bot` hands over to the command line, which is a front end.
IMPORT_EXEMPT = {ROOT / "bot" / "__main__.py"}
# The one place that may read the real time.
CLOCK_EXEMPT = {ROOT / "bot" / "clock.py"}
# module -> functions that read the wall clock
CLOCK_READS = {
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "time": {"time", "time_ns"},
}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def forbidden_imports(tree: ast.AST, forbidden: set[str] = FORBIDDEN) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"line {node.lineno}: {name}" for name in names if name.split(".")[0] in forbidden]
    return found


def clock_reads(tree: ast.AST) -> list[str]:
    """Calls such as datetime.now(), datetime.datetime.now(), date.today(), time.time(), or `from time import time`."""
    from_time = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            from_time |= {alias.asname or alias.name for alias in node.names if alias.name in CLOCK_READS["time"]}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = func.value.attr if isinstance(func.value, ast.Attribute) else getattr(func.value, "id", None)
            if func.attr in CLOCK_READS.get(owner or "", set()):
                found.append(f"line {node.lineno}: {owner}.{func.attr}()")
        elif isinstance(func, ast.Name) and func.id in from_time:
            found.append(f"line {node.lineno}: {func.id}()")
    return found


def parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_core_exists() -> None:
    assert ROOT / "bot" / "hours.py" in CORE
    assert len(CORE) > 5


@pytest.mark.parametrize("path", [p for p in CORE if p not in IMPORT_EXEMPT], ids=rel)
def test_core_never_imports_a_platform_or_an_adapter(path: Path) -> None:
    in_bot = path.is_relative_to(ROOT / "bot")
    found = forbidden_imports(parse(path), FORBIDDEN_IN_BOT if in_bot else FORBIDDEN)
    assert found == [], f"{rel(path)} imports outwards; imports point adapters -> dialogs -> bot"


@pytest.mark.parametrize("path", [p for p in CORE if p not in CLOCK_EXEMPT], ids=rel)
def test_core_never_reads_the_clock(path: Path) -> None:
    assert clock_reads(parse(path)) == [], f"{rel(path)} reads the clock; take the moment or a Clock as an argument"


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("import aiohttp", True),
        ("from slack_sdk.web import WebClient", True),
        ("import botbuilder.core as bc", True),
        ("from adapters.cli import main", True),
        ("from bot.errors import BotError", False),
        ("from . import aiohttp_helpers", False),
        ("import slack_markdown", False),
    ],
)
def test_the_import_check_itself(source: str, caught: bool) -> None:
    assert bool(forbidden_imports(ast.parse(source))) is caught


def test_the_core_may_not_import_the_conversation() -> None:
    assert forbidden_imports(ast.parse("from dialogs.turns import Turn"), FORBIDDEN_IN_BOT)
    assert not forbidden_imports(ast.parse("from dialogs.turns import Turn"))


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("datetime.now()", True),
        ("datetime.now(UTC)", True),
        ("datetime.datetime.now(tz=UTC)", True),
        ("datetime.utcnow()", True),
        ("date.today()", True),
        ("time.time()", True),
        ("from time import time\ntime()", True),
        ("from time import time as t\nt()", True),
        ("clock.now()", False),
        ("time.monotonic()", False),
        ("datetime.fromisoformat(text)", False),
        ("from datetime import time\ntime(8, 0)", False),
    ],
)
def test_the_clock_check_itself(source: str, caught: bool) -> None:
    assert bool(clock_reads(ast.parse(source))) is caught
