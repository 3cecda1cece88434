"""The domain's refusals: one hierarchy, mapped to HTTP once by the runtime.

A handler raises these in the words of its domain; the runtime turns them into the answer
(404, 409, 422, 403) so that no route maps errors by hand."""

from __future__ import annotations


class DomainError(Exception):
    """A use case refused: ``message`` says why, ``field`` names the input at fault (if one is)."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The thing named does not exist (or is not visible to the caller)."""

    status = 404


class Conflict(DomainError):
    """The thing's current state forbids the change (e.g. closing a closed case)."""

    status = 409


class Invalid(DomainError):
    """The input is well-formed but breaks a rule of the domain."""

    status = 422


class Forbidden(DomainError):
    """The caller may not do this to this thing (outside their places, not their task)."""

    status = 403
