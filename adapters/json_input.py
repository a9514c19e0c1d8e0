"""JSON from the network: one definition of an unreadable body, shared by every endpoint that reads one.

`json.loads` raises ValueError for bad syntax or bytes that are not UTF-8, and RecursionError when
arrays or objects nest deeper than Python's recursion limit: 100,000 `[` are a 100 KB request anyone
can send. An endpoint that caught only the first answered 500 with a traceback in the log.
"""

from __future__ import annotations

import json
from typing import Any

# What parsing untrusted JSON raises, for code that lets a library parse it (bolt parses Slack's bodies).
UNREADABLE_JSON: tuple[type[Exception], ...] = (ValueError, RecursionError)


class UnreadableJsonError(ValueError):
    """The body is not JSON this server can read; the text says why, short enough for a 400."""


def why_unreadable(exc: Exception) -> str:
    """A few words for the log line about a body a library could not read (Python's name for most errors)."""
    return "JSON nested too deeply" if isinstance(exc, RecursionError) else type(exc).__name__


def parse_json(data: bytes | str) -> Any:
    """The parsed body.

    Raises:
        UnreadableJsonError: not UTF-8, not JSON, or nested too deeply.
    """
    try:
        # RFC 8259: JSON between systems is UTF-8; json.loads would also guess UTF-16 and UTF-32 from bytes.
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except RecursionError:
        raise UnreadableJsonError("the body's JSON is nested too deeply") from None
    except ValueError as exc:
        raise UnreadableJsonError(f"the body is not valid JSON: {exc}") from None
