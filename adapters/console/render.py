"""Messages as terminal text: title, text, facts, and the choices numbered from 1."""

from __future__ import annotations

from bot.messages import Message


def message_to_lines(message: Message, *, numbered: bool = True) -> list[str]:
    """`numbered`: the choices can be answered by number (the employee's own question); else just listed."""
    lines: list[str] = []
    if message.title:
        lines.append(f"== {message.title} ==")
    lines += message.text.splitlines() or [""]
    width = max((len(f.label) for f in message.facts), default=0)
    lines += [f"  {f.label.ljust(width)}  {f.value}" for f in message.facts]
    if numbered:
        lines += [f"  [{number}] {choice.label}" for number, choice in enumerate(message.choices, start=1)]
    elif message.choices:
        lines.append("  " + "  ".join(f"({choice.label})" for choice in message.choices))
    return lines


def message_to_text(message: Message, *, numbered: bool = True) -> str:
    return "\n".join(message_to_lines(message, numbered=numbered))
