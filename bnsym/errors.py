"""All errors bnsym raises on purpose, under one base class.

Each error carries a one-line message naming what was wrong and what to do; the CLI
prints it without a traceback and exits with the error's ``exit_code``.
"""

from __future__ import annotations


class BnsymError(Exception):
    """Base of every error bnsym raises deliberately."""

    exit_code = 3


class UsageError(BnsymError):
    """The user asked for something that cannot be done as asked (exit code 2)."""

    exit_code = 2


class UnknownIdError(UsageError):
    """No theorem or claim has the given id."""


class DomainError(UsageError):
    """A parameter value lies outside its declared domain."""


class DerivationFileError(UsageError):
    """A derivation file does not import, or holds no theorems or claims."""


class ExpressionError(UsageError):
    """An expression could not be parsed or compiled."""


class DeviceError(UsageError):
    """The requested compute device is not available."""


class DefinitionError(BnsymError):
    """A theorem, claim or check is declared inconsistently (a bug in its file)."""
