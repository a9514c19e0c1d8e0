"""The e-mail about a new case to the support mailbox, written so a ticket system files it on the case.

The subject carries the number in the form ticket systems thread on ("[Sag 10001] …"), and the body
has the same facts as the team-channel post (`bot.oncall.pages.page_message`), with the whole
description rather than its first lines. The text is in the mailbox's language, from the catalogs.
"""

from __future__ import annotations

from bot.cases import Case
from bot.config import Settings
from bot.i18n import text
from bot.oncall.pages import page_message

MAIL = "email"
SUBJECT_PROBLEM_LIMIT = 60  # characters of the problem in the subject; ticket lists cut long ones anyway


def mail_for(case: Case, *, settings: Settings, message_id: str) -> dict[str, str]:
    """The e-mail as the SMTP sender takes it: subject, plain-text body, and the id that makes re-sends one mail."""
    language = settings.email.language
    post = page_message(case, settings=settings, language=language, team=True)
    label = text("oncall.fact.description", language)
    facts = [(fact.label, case.description if fact.label == label else fact.value) for fact in post.facts]
    width = max(len(name) for name, _ in facts)
    lines = [
        text("mail.new_case.intro", language, number=case.number, provider=settings.provider.name),
        "",
        *(f"{name + ':':<{width + 1}} {_indented(value, width + 2)}" for name, value in facts),
        "",
        text("mail.new_case.reply_hint", language, number=case.number),
    ]
    return {"subject": subject(case, language), "body": "\n".join(lines) + "\n", "message_id": message_id}


def subject(case: Case, language: str) -> str:
    """ "[Sag 10001] Ingen internet – Biokube A/S": number, problem, customer."""
    problem = text(f"intake.category.{case.category.value}", language)
    if len(problem) > SUBJECT_PROBLEM_LIMIT:
        problem = problem[: SUBJECT_PROBLEM_LIMIT - 1].rstrip() + "…"
    customer = " ".join(case.customer.name.split())  # no line breaks in a header
    return text("mail.new_case.subject", language, number=case.number, problem=problem, customer=customer)


def _indented(value: str, indent: int) -> str:
    return value.replace("\n", "\n" + " " * indent)
