"""Who may see and act on what in Teams: a colleague's case stays private, a refused press blocks nothing."""

from __future__ import annotations

from bot.cases import CaseStatus
from tests.teams.conftest import PRIMARY, PROVIDER_TENANT, TeamsClient, personal_chat
from tests.teams.fake_connector import shown_text
from tests.teams.test_flow import page_for, report_outage

COLLEAGUE = "aad-employee-2"  # the same customer tenant as the reporter


async def test_a_colleague_in_the_same_tenant_cannot_read_a_case_by_its_number(teams: TeamsClient) -> None:
    await report_outage(teams)
    chat = personal_chat(COLLEAGUE)
    for asked in ("status på sag 10001", "status på sag 10099", "10001", "10099"):
        await teams.say(asked, user=COLLEAGUE)
    refused, missing, bare_refused, bare_missing = (shown_text(c.body) for c in teams.connector.posted(chat))
    assert "Intet internet" not in refused and refused.replace("10001", "10099") == missing
    assert bare_refused.replace("10001", "10099") == bare_missing
    await teams.say("status på sag 10001")
    assert "Intet internet" in shown_text(teams.last().body), "the reporter still sees their own case"


async def test_a_refused_press_by_someone_else_does_not_block_the_technicians_press(teams: TeamsClient) -> None:
    await report_outage(teams)
    (created,) = teams.connector.created()
    page = page_for(teams, created.conversation)
    # The employee sends the page's Acknowledge choice (a forged card submit): refused.
    await teams.submit({"choice": "oncall:ack:10001"}, reply_to=page, user=COLLEAGUE)
    await teams.settle()
    assert (await teams.services().store.get(10001)).status is CaseStatus.OPEN
    technician = {"user": PRIMARY, "tenant": PROVIDER_TENANT, "conversation": created.conversation}
    await teams.press(page, "Kvittér", **technician)
    await teams.settle()
    assert (await teams.services().store.get(10001)).status is CaseStatus.ACKNOWLEDGED
