"""The one error root of the application.

Domain code raises these; the web layer (``directory.web.http``) renders every one of them,
and every HTTP error, as ``application/problem+json`` (RFC 9457). Nothing here imports
Flask.
"""

from __future__ import annotations

from typing import Any


class DirectoryError(Exception):
    """Root of every error the application reports to a client.

    Each subclass carries the HTTP status, a stable machine-readable ``code`` and a
    title; instances carry a plain-English ``detail`` and optional extension members.
    """

    status: int = 500
    code: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body.update(self.extensions)
        return body


class InvalidInputError(DirectoryError):
    status = 422
    code = "invalid-input"
    title = "The request has invalid values"


class InvalidPostcodeError(InvalidInputError):
    code = "invalid-postcode"
    title = "Not a valid UK postcode"


class InvalidCoordinatesError(InvalidInputError):
    code = "invalid-coordinates"
    title = "Coordinates out of range"


class UnknownParameterError(DirectoryError):
    """A query parameter the operation does not take (a misspelt filter would otherwise be
    ignored, widening the answer without a word)."""

    status = 400
    code = "unknown-parameter"
    title = "Unknown query parameter"


class InvalidParameterError(DirectoryError):
    """An invalid parameter value where a standard wants 400, not 422 (OGC API – Features,
    Part 1: /req/core/query-param-invalid)."""

    status = 400
    code = "invalid-parameter"
    title = "A query parameter has an invalid value"


class NotFoundError(DirectoryError):
    status = 404
    code = "not-found"
    title = "Not found"


class CollectionNotFoundError(NotFoundError):
    code = "collection-not-found"
    title = "No such collection"


class FeatureNotFoundError(NotFoundError):
    code = "feature-not-found"
    title = "No such feature"


class ServiceNotFoundError(NotFoundError):
    code = "service-not-found"
    title = "No such service"


class OrganisationNotFoundError(NotFoundError):
    code = "organisation-not-found"
    title = "No such organisation"


class GrantNotFoundError(NotFoundError):
    code = "grant-not-found"
    title = "No such grant"


class ProgrammeNotFoundError(NotFoundError):
    code = "programme-not-found"
    title = "No such programme"


class ImportNotFoundError(NotFoundError):
    code = "import-not-found"
    title = "No such import run"


class AreaNotFoundError(NotFoundError):
    code = "area-not-found"
    title = "No such area"


class OutsideCoverageError(NotFoundError):
    code = "outside-coverage"
    title = "Outside London"


class PostcodeNotFoundError(NotFoundError):
    code = "postcode-not-found"
    title = "Postcode not found"


class PostcodeTerminatedError(NotFoundError):
    code = "postcode-terminated"
    title = "Postcode terminated"


class OutcodeNotFoundError(NotFoundError):
    code = "outcode-not-found"
    title = "Outcode not found in London"


class PayloadTooLargeError(DirectoryError):
    status = 413
    code = "too-many-items"
    title = "Too many items in one request"


class AnswerTooLargeError(PayloadTooLargeError):
    code = "answer-too-large"
    title = "The answer would be too large"


class NotReadyError(DirectoryError):
    status = 503
    code = "not-ready"
    title = "Service not ready"


class GeodataNotLoadedError(NotReadyError):
    code = "geodata-not-loaded"
    title = "Geography data not loaded"


class DatabaseNotInitialisedError(NotReadyError):
    code = "database-not-initialised"
    title = "Database not initialised"


class DatabaseUnavailableError(NotReadyError):
    code = "database-unavailable"
    title = "Database unavailable"
