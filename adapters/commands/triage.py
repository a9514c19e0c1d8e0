"""`supportbot triage`: classify one problem description, or a stream of them, as JSON.

    python -m bot triage "printeren er offline for alle"
    printf '{"text": "kan ik logge paa"}\\n' | python -m bot triage

Streaming mode answers every input line with one output line, in order, so outputs can be zipped with
inputs; a line that cannot be read gives {"error": ..., "line": N} and the rest are still classified.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from bot.config import Settings
from bot.triage import Triage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "text",
        nargs="?",
        help='the problem as the employee typed it; without it, read JSON Lines {"text": ...} from stdin '
        "and write one JSON object per line (exit status 1 if any line could not be read)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    triage = Triage()
    if args.text is not None:
        _write(triage.classify(args.text).to_dict())
        return 0
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


def _write(answer: dict[str, Any]) -> None:
    print(json.dumps(answer, ensure_ascii=False), flush=True)
