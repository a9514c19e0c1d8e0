"""The problem categories of the support policy, and which of them make a case critical."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    INTERNET_DOWN = "internet_down"
    IT_SYSTEM_UNREACHABLE = "it_system_unreachable"
    PRINTING_DOWN = "printing_down"
    ACCOUNT_LOCKED = "account_locked"
    SUSPECTED_HACK = "suspected_hack"
    PASSWORD_NOT_WORKING = "password_not_working"
    SYSTEM_ERROR = "system_error"
    OTHER = "other"


class Scope(StrEnum):
    """Who the text (or the employee's answer) says is affected."""

    ALL = "all"
    SOME = "some"
    ME = "me"
    UNKNOWN = "unknown"


# Internet, IT solution and printing are critical only when everyone is affected (POLICY.md).
SCOPE_DEPENDENT: frozenset[Category] = frozenset(
    {Category.INTERNET_DOWN, Category.IT_SYSTEM_UNREACHABLE, Category.PRINTING_DOWN}
)


def is_critical(category: Category, scope: Scope) -> bool:
    """Whether the policy counts this problem as critical ("drifts-kritisk")."""
    if category is Category.OTHER:
        return False
    if category in SCOPE_DEPENDENT:
        return scope is Scope.ALL
    return True


def needs_scope(category: Category, scope: Scope) -> bool:
    """Whether the employee must be asked who is affected before criticality is known: whenever the text
    does not clearly say that several or all are. "Jeg kan ikke printe" is often the whole office."""
    return category in SCOPE_DEPENDENT and scope in (Scope.UNKNOWN, Scope.ME)
