"""One root for the errors the core raises on purpose; anything else is a bug."""

import logging


class BotError(Exception):
    """An expected failure with a message meant for a person."""


class ConfigError(BotError):
    """The configuration cannot be used; the message names the file, the key and the problem."""


class StorageError(BotError):
    """The data folder cannot be read or written; the message says what to do next."""


class CaseNotFoundError(BotError):
    """No case has that number (or it belongs to another customer)."""


class StorageFullError(StorageError):
    """The data folder takes no more writes (disk full, a file size or quota limit, a read-only mount).

    Nothing was changed, so the same write works once there is room again: callers tell the person to
    use the phone and log one line, without a traceback.
    """


def log_failure(log: logging.Logger, what: str, exc: BaseException) -> None:
    """One line for an expected failure (a `BotError` says what to do), the traceback for a bug."""
    if isinstance(exc, BotError):
        log.error("%s: %s", what, exc)
    else:
        log.error("%s", what, exc_info=exc)
