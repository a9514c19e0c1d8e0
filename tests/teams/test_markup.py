"""Markup an employee types reaches the technician's Teams page as text: no link, no bold (issue 3)."""

from __future__ import annotations

import json

from tests.teams.conftest import PRIMARY, PROVIDER_TENANT, REPORTER, TeamsClient, card_errors, personal_chat
from tests.teams.fake_connector import card_of, choices_of, shown_text

LURE = "[Nulstil din kode](https://evil.example) **haster**"
DESCRIPTION = f"internettet er nede for alle på kontoret {LURE}"
NAME = "_Mette_ <b>IT</b>"
# The answers that lead to a page, whichever questions the bot asks.
PATH_TO_PAGE = ("Ja, tilkald vagten", "Spring over", "Ja", "Intet internet på kontoret", "Alle")


async def test_a_description_with_markdown_reaches_the_technician_as_text(teams: TeamsClient) -> None:
    chat = personal_chat(REPORTER)
    sender = {"from": {"id": f"29:{REPORTER}", "name": NAME, "aadObjectId": REPORTER}}
    await teams.say(DESCRIPTION, **sender)
    for _ in range(5):  # through the questions to the page: the category, who is hit, the on-call cost
        offered = choices_of(teams.connector.current(chat, teams.last(chat).activity_id))
        label = next((label for label in PATH_TO_PAGE if label in offered), None)
        if label is None:
            break
        await teams.press(teams.last(chat), label, **sender)
        await teams.settle()

    (created,) = teams.connector.created()
    assert created.body["members"] == [{"id": PRIMARY}]
    assert created.body["channelData"] == {"tenant": {"id": PROVIDER_TENANT}}
    page = next(c for c in teams.connector.posted(created.conversation) if "oncall:ack" in str(choices_of(c.body)))
    card = card_of(page.body)
    assert card is not None and card_errors(card) == []
    facts = {f["title"]: f["value"] for block in card["body"] if block["type"] == "FactSet" for f in block["facts"]}
    described = " ".join(facts.values())
    assert r"\[Nulstil din kode\](https://evil.example) \*\*haster\*\*" in described
    assert r"\_Mette\_ \<b>IT\</b>" in described
    # Nothing a Markdown renderer would turn into a link or bold is left unescaped anywhere on the card.
    everything = json.dumps(card, ensure_ascii=False)
    assert "[Nulstil din kode](" not in everything and " **haster**" not in everything
    assert "Bageriet ApS" in shown_text(page.body)
