"""The language of the administrator's reports: `--language`, else `$SUPPORTBOT_LANGUAGE`, else Danish."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from bot.errors import BotError
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES

LANGUAGE_VARIABLE = "SUPPORTBOT_LANGUAGE"


def add_language_argument(parser: argparse.ArgumentParser) -> None:
    """`--language da|en` for an administrator's report; `report_language` fills in the default."""
    parser.add_argument(
        "--language",
        "--lang",
        choices=LANGUAGES,
        help=f"language of the report (default: ${LANGUAGE_VARIABLE} if set, else {DEFAULT_LANGUAGE})",
    )


def report_language(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> str:
    """`--language`, else `$SUPPORTBOT_LANGUAGE` ("en", "en_GB.UTF-8" and "da-DK" work), else Danish."""
    if args.language:
        return str(args.language)
    chosen = environ.get(LANGUAGE_VARIABLE, "").strip()
    if not chosen:
        return DEFAULT_LANGUAGE
    prefix = chosen.replace("_", "-").split("-")[0].split(".")[0].lower()
    if prefix not in LANGUAGES:
        raise BotError(
            f"{LANGUAGE_VARIABLE}={chosen!r} is not a language of the reports; use one of {', '.join(LANGUAGES)}"
        )
    return prefix
