"""The museum's exception tree. Each class carries its HTTP status and a stable code.

Messages are English gettext message ids with ``{placeholders}``; the error
handler (or the CLI) translates them into the user's language, so the same
error reads correctly on a Vietnamese page, an English API call and a terminal.
"""

from __future__ import annotations

import errno
from typing import Any


def N_(message: str) -> str:
    """Mark a message id for extraction; it is translated when shown."""
    return message


class MuseumError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, parameter: str | None = None, **params: Any) -> None:
        self.message = message
        self.parameter = parameter
        self.params = params
        super().__init__(self.render(lambda text: text))

    def render(self, gettext: Any) -> str:
        """The message in the language whose ``gettext`` is given."""
        text: str = gettext(self.message)
        try:
            return text.format(**self.params)
        except (KeyError, IndexError, ValueError):
            # A translation with a broken placeholder must not hide the error itself.
            return self.message.format(**self.params)


class BadRequest(MuseumError):
    status = 400
    code = "bad_request"


class Unauthorized(MuseumError):
    status = 401
    code = "unauthorized"


class Forbidden(MuseumError):
    status = 403
    code = "forbidden"


class TooManyRequests(MuseumError):
    """``retry_after`` seconds go into the Retry-After header."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int = 60, **params: Any) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message, **params)


class NotFound(MuseumError):
    status = 404
    code = "not_found"


class MethodNotAllowed(MuseumError):
    status = 405
    code = "method_not_allowed"


class Conflict(MuseumError):
    status = 409
    code = "conflict"


class PayloadTooLarge(MuseumError):
    status = 413
    code = "payload_too_large"


class ValidationError(MuseumError):
    status = 422
    code = "validation_error"


class InsufficientStorage(MuseumError):
    status = 507
    code = "insufficient_storage"


def disk_full_error(exc: BaseException) -> InsufficientStorage | None:
    """A clear 507 for a write that ran out of space (ENOSPC, EDQUOT), else None. The free
    space reserve is checked before work starts, but others may fill the disk meanwhile."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientStorage(
            N_("The museum's disk is full; nothing was kept. Tell an administrator.")
        )
    return None


class ServiceUnavailable(MuseumError):
    status = 503
    code = "service_unavailable"


class IntegrityFailure(ValidationError):
    """Stored bytes do not match the digest they were declared or recorded with."""

    code = "integrity_failure"


STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", N_("The request is malformed.")),
    401: ("unauthorized", N_("You need to sign in to do this.")),
    403: ("forbidden", N_("You are not allowed to do this.")),
    404: ("not_found", N_("There is nothing at this address.")),
    405: ("method_not_allowed", N_("This address does not accept that method.")),
    409: ("conflict", N_("The request conflicts with the current state.")),
    413: ("payload_too_large", N_("The request is too large.")),
    422: ("validation_error", N_("Some of the data is not valid.")),
    429: ("too_many_requests", N_("Too many requests; please wait and try again.")),
    500: ("internal_error", N_("Something went wrong on our side. The error has been logged.")),
    503: ("service_unavailable", N_("The service is temporarily unavailable; please try again.")),
}


def code_for_status(status: int) -> tuple[str, str]:
    """``(code, message id)`` for an HTTP status that has no more specific error."""
    return STATUS_CODES.get(status, ("http_error", N_("The request could not be completed.")))
