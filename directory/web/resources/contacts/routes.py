"""Patch contacts (borough SPOCs, SNB chairs, BCU leads): list and read them; add, change
and remove them (an officer's or admin's key). A contact's email is shown only when the
record says it may be published."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory.usecases import catalogue, writes
from directory.usecases.keys import Principal
from directory.web import http, preconditions, writing
from directory.web.api import Blueprint, ProblemSchema
from directory.web.auth import requires_key
from directory.web.resources.common import ContactSchema, PageArgsSchema
from directory.web.resources.contacts.schemas import (
    ContactCreateSchema,
    ContactListArgsSchema,
    ContactPageSchema,
    ContactPatchSchema,
)
from directory.web.resources.services.schemas import ChangePageSchema
from directory.web.state import catalogue as queries
from directory.web.state import etag_from_body, paged_response, snapshot

blp = Blueprint("contacts", __name__, url_prefix="/api/v1", description="Patch contacts")
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}
OFFICERS = ("officer",)


@blp.route("/contacts")
@blp.arguments(ContactListArgsSchema, location="query")
@blp.response(200, ContactPageSchema)
@blp.alt_response(404, description="area-not-found, area-ambiguous", **PROBLEM)
def list_contacts(args: dict[str, Any]) -> Response:
    """The patch contacts (of an area and the areas inside it), by area and role; an email
    only where it may be published."""
    etag_from_body()
    body = catalogue.list_contacts(
        queries(), snapshot(), area=args.get("area"), page=args["page"], per_page=args["per_page"]
    )
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/contacts/<int:contact_id>")
@blp.response(200, ContactSchema)
@blp.alt_response(404, description="contact-not-found", **PROBLEM)
def get_contact(contact_id: int) -> Response:
    """One patch contact. Its strong ETag hashes the body (for `If-Match`)."""
    etag_from_body()
    return http.json_response(catalogue.contact_detail(queries(), snapshot(), contact_id))


@blp.route("/contacts/<int:contact_id>/history")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ChangePageSchema)
@blp.alt_response(404, description="contact-not-found", **PROBLEM)
def contact_history(args: dict[str, Any], contact_id: int) -> Response:
    """Every recorded change to the patch contact, newest first, with old → new values
    (a private email shown as not published) and who made each."""
    body = catalogue.contact_history(
        queries(), snapshot(), contact_id, args["page"], args["per_page"]
    )
    return paged_response(body, args["page"], args["per_page"])


def _contact(contact_id: int) -> writing.Render:
    return writing.fresh(lambda q: catalogue.contact_detail(q, snapshot(), contact_id))


@blp.route("/contacts", methods=["POST"])
@requires_key(blp, *OFFICERS)
@blp.doc(requestBody=writing.json_body(ContactCreateSchema))
@blp.response(201, ContactSchema, description="Added: the contact, as GET shows it")
@writing.documented(blp, {
    409: "duplicate-ref: the area has a contact of this role; write-locked",
    415: writing.UNSUPPORTED, 422: writing.INVALID,
})  # fmt: skip
def create_contact(principal: Principal) -> Response:
    """Add a patch contact (officer or admin). Its email stays private unless
    `email_public` is true."""
    contact_id = writes.add_contact(writing.writer(principal), writing.body(ContactCreateSchema()))
    return writing.answer(_contact(contact_id), 201, location=f"/api/v1/contacts/{contact_id}")


@blp.route("/contacts/<int:contact_id>", methods=["PATCH"])
@requires_key(blp, *OFFICERS)
@preconditions.documented(blp)
@blp.doc(requestBody=writing.json_body(ContactPatchSchema))
@blp.response(200, ContactSchema, description="Changed: the contact, as GET shows it")
@writing.documented(blp, {
    404: "contact-not-found",
    409: "duplicate-ref: the area has another contact of this role; write-locked",
    415: writing.UNSUPPORTED, 422: writing.INVALID,
})  # fmt: skip
def update_contact(contact_id: int, principal: Principal) -> Response:
    """Change a patch contact (only the fields sent; null clears one)."""
    render = _contact(contact_id)
    writes.update_contact(
        writing.writer(principal), contact_id, writing.body(ContactPatchSchema()),
        writing.guard(render),
    )  # fmt: skip
    return writing.answer(render)


@blp.route("/contacts/<int:contact_id>", methods=["DELETE"])
@requires_key(blp, *OFFICERS)
@preconditions.documented(blp)
@blp.response(204, description="Removed")
@writing.documented(blp, {404: "contact-not-found", 409: "write-locked"})
def delete_contact(contact_id: int, principal: Principal) -> Response:
    """Remove a patch contact (recorded as a change event naming the key)."""
    writes.remove_contact(
        writing.writer(principal), contact_id, writing.guard(_contact(contact_id))
    )
    return Response(status=204)
