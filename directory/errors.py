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

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the problem (none by default)."""
        return {}


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


#: the protection space named in every WWW-Authenticate challenge (RFC 6750 §3)
REALM = "directory"


class AuthenticationError(DirectoryError):
    """No usable API key (RFC 6750): 401 with a ``Bearer`` challenge. A request that sent
    no bearer token at all is told only that one is needed; one that sent a bad token is
    told ``error="invalid_token"`` too."""

    status = 401
    code = "missing-key"
    title = "An API key is needed"
    #: the RFC 6750 error code of the challenge (None: no token was sent)
    challenge_error: str | None = None

    def headers(self) -> dict[str, str]:
        challenge = f'Bearer realm="{REALM}"'
        if self.challenge_error:
            challenge += f', error="{self.challenge_error}"'
        return {"WWW-Authenticate": challenge}


class InvalidKeyError(AuthenticationError):
    """A bearer token was sent that is not a key of this directory (malformed or unknown)."""

    code = "invalid-key"
    title = "The API key is not valid"
    challenge_error = "invalid_token"


class RevokedKeyError(InvalidKeyError):
    code = "revoked-key"
    title = "The API key has been revoked"


class ExpiredKeyError(InvalidKeyError):
    code = "expired-key"
    title = "The API key has expired"


class ForbiddenError(DirectoryError):
    """A valid key whose role may not do this (RFC 6750 ``insufficient_scope``)."""

    status = 403
    code = "forbidden"
    title = "Forbidden"  # (the code of gunicorn's and werkzeug's 403s too: the subclasses say more)

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope"'}


class WrongRoleError(ForbiddenError):
    code = "wrong-role"
    title = "This key's role may not do that"


class WrongOrganisationError(ForbiddenError):
    """An editor's key, about another organisation's record."""

    code = "wrong-organisation"
    title = "This key belongs to another organisation"


class PreconditionRequiredError(DirectoryError):
    """A change to a record sent without ``If-Match`` (RFC 6585 §3): the client must say
    which version it read, so that it cannot overwrite a change it never saw."""

    status = 428
    code = "precondition-required"
    title = "If-Match is required"


class PreconditionFailedError(DirectoryError):
    """``If-Match`` names a version of the record that is no longer current (RFC 9110
    §13.1.1): someone changed it since the client read it."""

    status = 412
    code = "precondition-failed"
    title = "The record has changed since it was read"


class KeyRequestError(DirectoryError):
    """A key cannot be made or changed as asked (``directory keys``): an editor without an
    organisation, an unknown organisation, a date in the past, an unknown key id."""

    status = 422
    code = "invalid-key-request"
    title = "The key cannot be made as asked"


class NotFoundError(DirectoryError):
    status = 404
    code = "not-found"
    title = "Not found"


class NoGrantsError(NotFoundError):
    """A 360Giving package must hold at least one grant (the standard's package schema):
    filters that keep none to publish have no package to answer with."""

    code = "no-grants"
    title = "No grants to publish"


class CollectionNotFoundError(NotFoundError):
    code = "collection-not-found"
    title = "No such collection"


class FeatureNotFoundError(NotFoundError):
    code = "feature-not-found"
    title = "No such feature"


class ServiceNotFoundError(NotFoundError):
    code = "service-not-found"
    title = "No such service"


class SiteNotFoundError(NotFoundError):
    code = "site-not-found"
    title = "No such delivery site"


class OutcomeNotFoundError(NotFoundError):
    code = "outcome-not-found"
    title = "No such outcome"


class ContactNotFoundError(NotFoundError):
    code = "contact-not-found"
    title = "No such patch contact"


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


class OpportunityNotFoundError(NotFoundError):
    code = "opportunity-not-found"
    title = "No such funding opportunity"


class FeedbackNotFoundError(NotFoundError):
    code = "feedback-not-found"
    title = "No such feedback"


class PracticeNoteNotFoundError(NotFoundError):
    code = "practice-note-not-found"
    title = "No such practice note"


class AreaNotFoundError(NotFoundError):
    code = "area-not-found"
    title = "No such area"


class AreaAmbiguousError(AreaNotFoundError):
    """A name several areas share (wards of different boroughs called Kilburn): no one area
    is named, so a 404 like any name that names nothing (every route that takes an area
    already answers one, and a client treating it as "not found" is right), with its own
    code and the areas, each with its borough, as ``suggestions`` to choose from."""

    code = "area-ambiguous"
    title = "Several areas have this name"


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


class UnsupportedFileTypeError(DirectoryError):
    status = 415
    code = "unsupported-file-type"
    title = "The importer does not read this type of file"


class ImportTooLongError(DirectoryError):
    """An upload whose import ran past ``DIRECTORY_UPLOAD_SECONDS``: stopped, nothing
    written; the command line has no such limit."""

    status = 413
    code = "import-too-long"
    title = "The file takes too long to import over the API"


class InsufficientStorageError(DirectoryError):
    """The server has no room left to take an upload in (its temporary space is full)."""

    status = 507
    code = "insufficient-storage"
    title = "Insufficient storage"


class ImportFailedError(DirectoryError):
    """An uploaded file the importer refused: any error and nothing was written; the
    problems (row, column, value, message) and the failed run's id go with it."""

    status = 422
    code = "import-failed"
    title = "The file was refused: nothing was written"


class OpportunityExistsError(DirectoryError):
    """An opportunity is added under a ref another one already has."""

    status = 409
    code = "opportunity-exists"
    title = "An opportunity with this ref exists already"


class WriteLockedError(DirectoryError):
    """Another import or refresh holds the directory's write lock."""

    status = 409
    code = "write-locked"
    title = "Another import or refresh is running"


class ConflictError(DirectoryError):
    """The write clashes with what the directory holds."""

    status = 409
    code = "conflict"
    title = "The change clashes with the directory"


class DuplicateRefError(ConflictError):
    """A record created with a ref (or a site, outcome or contact with a key) another
    record already has."""

    code = "duplicate-ref"
    title = "Another record already has this ref"


class WithdrawnError(ConflictError):
    """A change to a withdrawn service that does not restore it."""

    code = "service-withdrawn"
    title = "The service is withdrawn"


class OrganisationMergedError(ConflictError):
    """A merge naming an organisation merged into another earlier (its ref or id is an
    alias now): nothing is left of it to merge, or to merge into."""

    code = "organisation-merged"
    title = "The organisation was merged into another"


class SameOrganisationError(DirectoryError):
    """A merge of an organisation into itself (the same id or ref twice, or one of its own
    aliases)."""

    status = 422
    code = "same-organisation"
    title = "An organisation cannot be merged into itself"


class AnswerTooLargeError(PayloadTooLargeError):
    code = "answer-too-large"
    title = "The answer would be too large"


class NotReadyError(DirectoryError):
    status = 503
    code = "not-ready"
    title = "Service not ready"
    #: whether asking again shortly may succeed (a Retry-After is sent)
    retry_after = True


class GeodataNotLoadedError(NotReadyError):
    code = "geodata-not-loaded"
    title = "Geography data not loaded"


class DatabaseNotInitialisedError(NotReadyError):
    code = "database-not-initialised"
    title = "Database not initialised"


class SchemaBehindError(NotReadyError):
    """The database's schema lacks migrations this code needs (the code was upgraded and
    `directory migrate` not run): every read would fail on a missing column."""

    code = "schema-behind"
    title = "Database schema behind the code"


class DatabaseUnavailableError(NotReadyError):
    code = "database-unavailable"
    title = "Database unavailable"


class DatabaseReadOnlyError(NotReadyError):
    """The database takes reads but refuses writes (a read-only file or mount, a
    PostgreSQL standby): asking again will not help until an operator makes it writable,
    so the answer carries no Retry-After."""

    code = "database-read-only"
    title = "Database read-only"
    retry_after = False
