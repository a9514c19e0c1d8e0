"""Message catalogs: every text a person reads, in Danish (default) and English.

Catalog files are `bot/locales/<area>.<lang>.toml`; a key `x` in `intake.da.toml` is looked up as
`intake.x`. Values are `str.format` templates with named fields.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from bot.errors import ConfigError

LOCALES_DIR = Path(__file__).with_name("locales")
LANGUAGES = ("da", "en")
DEFAULT_LANGUAGE = "da"


def language_of(locale: str | None) -> str:
    """Map a platform locale ("en-US", "da_DK", "en") to a catalog language; Danish when unknown."""
    if not locale:
        return DEFAULT_LANGUAGE
    prefix = locale.replace("_", "-").split("-")[0].lower()
    return prefix if prefix in LANGUAGES else DEFAULT_LANGUAGE


def _flatten(prefix: str, table: Mapping[str, object], into: dict[str, str]) -> None:
    for key, value in table.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            _flatten(name, value, into)
        else:
            into[name] = str(value)


@cache
def catalog(language: str) -> Mapping[str, str]:
    """All texts of one language, keyed `area.key`."""
    texts: dict[str, str] = {}
    for path in sorted(LOCALES_DIR.glob(f"*.{language}.toml")):
        area = path.name.split(".")[0]
        try:
            _flatten(area, tomllib.loads(path.read_text(encoding="utf-8")), texts)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: the message catalog is not valid TOML: {exc}") from exc
    return texts


def text(key: str, language: str, /, **params: object) -> str:
    """The text for `key` in `language`, filled in. A missing key is a bug and raises KeyError."""
    template = catalog(language_of(language))[key]
    return template.format(**params) if params else template
