"""The audit log as the provider reads it: consent recorded when a case is made, the configuration's changed
policy values at start-up, and `python -m bot audit` / `cases show` beside nothing else."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.storage.embedded import EmbeddedStorage
from adapters.wiring import build_services
from bot.audit import AuditAction
from bot.config import load_settings
from tests.test_dialog_router import SATURDAY_NIGHT, until_phone_question
from tests.transcripts.harness import Bench, Employee


async def test_accepting_the_cost_is_recorded_with_who_and_what(tmp_path: Path) -> None:
    bench = Bench.start(tmp_path, SATURDAY_NIGHT)
    try:
        employee = Employee(bench)
        await until_phone_question(employee)
        await employee.press("Spring over")
        [entry] = await bench.services.storage.audit.read(case=10001)
        assert (entry.action, entry.actor, entry.data["accepted"], entry.data["terms"]) == (
            AuditAction.CONSENT,
            employee.reporter.user_id,
            True,
            ["surcharge"],
        )
        assert entry.data["paged"] is True
    finally:
        await bench.close()


async def test_the_configuration_is_recorded_when_its_policy_values_change(tmp_path: Path) -> None:
    settings = load_settings({"SUPPORTBOT_DATA": str(tmp_path / "data")})
    for fee in ("1000.00", "1000.00", "1500.00"):
        costs = dataclasses.replace(settings.costs, oncall_fee=Decimal(fee))
        services = build_services(dataclasses.replace(settings, costs=costs))
        try:
            await services.record_configuration()
        finally:
            await services.close()
    storage = EmbeddedStorage(tmp_path / "data", read_only=True)
    try:
        first, changed = await storage.audit.read()
    finally:
        await storage.close()
    assert first.action is AuditAction.CONFIG and first.data["changes"]["costs.oncall_fee"] == [None, "1000.00"]
    assert changed.data["changes"] == {"costs.oncall_fee": ["1000.00", "1500.00"]}, "the unchanged start adds nothing"


def test_audit_and_cases_show_print_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUPPORTBOT_CONFIG", raising=False)
    monkeypatch.delenv("SUPPORTBOT_LANGUAGE", raising=False)
    monkeypatch.setenv("SUPPORTBOT_DATA", str(tmp_path))  # where the bench keeps its data
    asyncio.run(test_accepting_the_cost_is_recorded_with_who_and_what(tmp_path))
    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Revisionslog\n") and "[sag 10001]: accepterede tillægget (vagten tilkaldt: ja)" in out
    assert main(["audit", "--case", "10002"]) == 0 and capsys.readouterr().out == "Revisionsloggen har ingen poster.\n"
    assert main(["cases", "show", "10001", "--lang", "en"]) == 0
    shown = capsys.readouterr().out
    assert "Audit log of the case:\n" in shown and ": accepted the surcharge (on-call called: yes)" in shown
    assert main(["audit", "--since", "2026-12-01"]) == 0 and "ingen poster" in capsys.readouterr().out
