"""Domain errors; each message is a sentence a person can act on."""


class DomainError(Exception):
    """Base of the errors the web layer translates into HTTP answers."""


class NotFound(DomainError):
    """The thing asked for does not exist (HTTP 404)."""


class Conflict(DomainError):
    """The operation clashes with the current state or a concurrent change (HTTP 409)."""


class Invalid(DomainError):
    """The request is well-formed but its content is wrong (HTTP 422)."""
