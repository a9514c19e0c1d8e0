"""Every branch of the intake conversation, in Danish and English, played against the real bot.

The transcripts are data (tests/transcripts/intake.<lang>.toml); the clock stands at the edges of the
opening hours (Friday 14:59 / 15:00, a public holiday, Saturday and Sunday night).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.transcripts.harness import Bench, Employee

TRANSCRIPTS = Path(__file__).with_name("transcripts")


def _load() -> list[Any]:
    cases = []
    for lang in ("da", "en"):
        raw = tomllib.loads((TRANSCRIPTS / f"intake.{lang}.toml").read_text(encoding="utf-8"))
        cases += [pytest.param(lang, t, id=f"{lang}: {t['name']}") for t in raw["transcript"]]
    return cases


@pytest.mark.parametrize(("lang", "transcript"), _load())
async def test_transcript(tmp_path: Path, lang: str, transcript: dict[str, Any]) -> None:
    bench = Bench.start(tmp_path, transcript["now"])
    employee = Employee(
        bench, lang=transcript.get("locale", lang)
    )  # the platform's language, unless a transcript sets it
    shown_costs: list[str] = []
    answer = ""  # how the employee's last input is recorded: the button's id, or the words typed
    try:
        for action, value, expected in transcript["steps"]:
            # the phone number question comes after the cost answer; answering it is not the cost answer
            answers_cost = not (employee.question and any(c.id.endswith(":skip") for c in employee.question.choices))
            if action == "say":
                answer = value if answers_cost else answer
                await employee.say(value)
            else:
                answer = employee.choice_id(value) if answers_cost else answer
                await employee.press(value)
            for fragment in expected:
                assert fragment in employee.text, f"{action} {value!r}: {fragment!r} not in:\n{employee.text}"
            assert all(m.key == "intake" for m in employee.replies if m.choices), "questions replace each other"
            shown_costs += [m.text for m in employee.replies if m.choices and "100" in m.text]
        cases = await bench.cases()
        expected_case = transcript["case"]
        if expected_case is False:
            assert cases == []
        else:
            assert len(cases) == 1
            case = cases[0]
            for field in ("category", "scope", "critical", "after_hours", "page_requested", "callback_phone"):
                if field in expected_case:
                    assert getattr(case, field) == expected_case[field], field
            assert case.reporter.user_id == "anna" and case.customer.name == "Demo A/S"
            if "cost_accepted" in expected_case:
                assert case.cost is not None
                assert case.cost.accepted is expected_case["cost_accepted"]
                # exactly the cost texts the employee was shown, in order
                assert case.cost.shown_text == "\n\n".join(shown_costs)
                assert case.cost.answered_at == bench.clock.now()
                # the cost answer is the employee's last input: a pressed button's id, or the typed words
                assert case.cost.answer == answer or case.cost.answer.endswith(f'"{answer}"')
            else:
                assert case.cost is None
            if "cost_terms" in expected_case:
                assert sorted(case.cost.terms) == sorted(expected_case["cost_terms"])
            final = employee.replies[-1]
            assert final.title.endswith(str(case.number)) and final.facts[0].value == str(case.number)
            assert not final.choices
        if "pages" in transcript:
            await bench.services.oncall.settled()  # the page is sent after the answer
            assert len(bench.local.to("vagt")) == transcript["pages"]
        if transcript.get("pages"):  # then the employee hears that on-call has it, in their language
            [update] = bench.local.to("anna")
            assert update.text.startswith(("Vagten er nu tilkaldt om din sag", "The on-call technician has now been"))
    finally:
        await bench.close()
