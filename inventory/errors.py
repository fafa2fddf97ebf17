"""Domain errors; each message is a sentence a person can act on, each class its HTTP meaning."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Base of the errors the web layer translates into HTTP answers (by `status_code`)."""

    status_code: ClassVar[int] = 400


class NotFound(DomainError):
    """The thing asked for does not exist (HTTP 404)."""

    status_code = 404


class Conflict(DomainError):
    """The operation clashes with the current state or a concurrent change (HTTP 409)."""

    status_code = 409


class Invalid(DomainError):
    """The request is well-formed but its content is wrong (HTTP 422)."""

    status_code = 422


class FieldInvalid(Invalid):
    """One field of a command is wrong; `field` names it so a form can show the sentence there."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
