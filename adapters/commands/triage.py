"""`supportbot triage`: classify one problem description, or a stream of them, as JSON; measure triage on
a labelled file; export the cases' texts for review into the corpus.

    python -m bot triage "printeren er offline for alle"
    printf '{"text": "kan ik logge paa"}\\n' | python -m bot triage
    python -m bot triage eval our-requests.jsonl     # accuracy, critical missed, ..., a confusion table
    python -m bot triage export > cases.jsonl         # each case's text and the category it was filed under

Streaming mode answers every input line with one output line, in order, so outputs can be zipped with
inputs; a line that cannot be read gives {"error": ..., "line": N} and the rest are still classified.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.storage import open_storage
from bot.cases import Case, CaseStatus
from bot.config import Settings
from bot.corpus import Example, guess_language, read_examples, write_examples
from bot.errors import BotError
from bot.triage import Triage
from bot.triage_eval import measure


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "text",
        nargs="*",
        help='the problem as the employee typed it; without it, read JSON Lines {"text": ...} from stdin '
        "and write one JSON object per line (exit status 1 if any line could not be read). "
        "'eval FILE.jsonl' measures triage on a labelled file (text, category, optional scope); "
        "'export' writes every case's text with the category it was filed under, in corpus format",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    match args.text:
        case ["eval", path]:
            return evaluate(Path(path), Triage(cache_dir=settings.data_dir))
        case ["eval", *_]:
            raise BotError("usage: triage eval FILE.jsonl (one labelled file)")
        case ["export"]:
            return export(settings)
        case [*words] if words:
            _write(Triage(cache_dir=settings.data_dir).classify(" ".join(words)).to_dict())
            return 0
    triage = Triage(cache_dir=settings.data_dir)
    failed = False
    for answer in classify_lines(triage, sys.stdin.buffer):
        failed = failed or "error" in answer
        _write(answer)
    return 1 if failed else 0


def classify_lines(triage: Triage, lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """One answer per input line: the classification, or what was wrong with the line."""
    for number, raw in enumerate(lines, start=1):
        try:
            text = _text_of(raw)
        except ValueError as exc:
            yield {"error": str(exc), "line": number}
        else:
            yield triage.classify(text).to_dict()


def _text_of(raw: bytes) -> str:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the line is not valid UTF-8") from None
    if not line.strip():
        raise ValueError('empty line; expected a JSON object like {"text": "..."}')
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise ValueError('expected a JSON object like {"text": "..."}')
    text = value.get("text")
    if not isinstance(text, str):
        raise ValueError('the object has no "text" string')
    return text


def evaluate(path: Path, triage: Triage) -> int:
    """Print how triage reads a labelled file: the figures, then the confusion table."""
    examples = read_examples(path)
    figures = measure(examples, triage.classify_many([e.text for e in examples]))
    print(f"{path}: {figures.total} labelled texts")
    print(f"right:                    {figures.accuracy:6.1%}")
    print(f"critical missed:          {figures.critical_missed:6.1%} of {figures.critical} critical texts")
    print(f"harmless marked critical: {figures.harmless_marked_critical:6.1%} of {figures.harmless} harmless texts")
    print(f"'everyone' right:         {figures.all_precision:6.1%} of {figures.said_all} read as everyone affected")
    print(f"asked who is affected:    {figures.asked_scope:6.1%}")
    print()
    print(figures.confusion_table())
    return 0


def export(settings: Settings) -> int:
    """Every case that was not cancelled, oldest first, as corpus lines for someone to review."""
    if not (settings.data_dir / "cases").is_dir():
        return 0
    batch = f"cases-{datetime.now().strftime('%Y%m%d')}"
    cases = sorted(asyncio.run(_all_cases(settings)), key=lambda c: c.number)
    write_examples(
        (
            Example(c.description, c.category, c.scope, guess_language(c.description), batch)
            for c in cases
            if c.status is not CaseStatus.CANCELLED and c.description.strip()
        ),
        sys.stdout,
    )
    return 0


async def _all_cases(settings: Settings) -> list[Case]:
    storage = open_storage(settings, read_only=True)  # no lock: works beside the running bot
    try:
        return await storage.cases.find()
    finally:
        await storage.close()


def _write(answer: dict[str, Any]) -> None:
    print(json.dumps(answer, ensure_ascii=False), flush=True)
