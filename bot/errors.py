"""One root for the errors the core raises on purpose; anything else is a bug."""


class BotError(Exception):
    """An expected failure with a message meant for a person."""


class ConfigError(BotError):
    """The configuration cannot be used; the message names the file, the key and the problem."""


class StorageError(BotError):
    """The data folder cannot be read or written; the message says what to do next."""


class CaseNotFoundError(BotError):
    """No case has that number (or it belongs to another customer)."""
