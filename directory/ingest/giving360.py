"""Read grants published to the 360Giving Data Standard: the JSON package and the flat
spreadsheet (CSV or XLSX with the standard's column titles).

Both forms go through one mapping (``_GrantReader.grant``): a spreadsheet row is first
turned into the same nested dict a JSON grant is, while problems keep the spreadsheet's
column titles.

Mapping decisions:

* A grant becomes a ``GrantRecord``; its funder and recipient become ``OrganisationRecord``s
  (one per distinct org-id, fields merged across grants). 360Giving grants fund
  organisations, not named services, so no ``ServiceRecord`` is invented and
  ``service_refs`` is None: the file says nothing of the services a grant funds, so the
  import keeps the links held (a blank never erases).
* Our own export's fillers are read as the blanks they stand for, so that importing it
  back changes nothing: a title that is only ``Grant <id>`` (:func:`placeholder_title`)
  and a description that is only :data:`NO_DESCRIPTION` (or, as it wrote until December
  2026, only the title). Our extension key ``demo`` (true) marks made-up example data; a
  grant without it is real.
* Grant ids: 360Giving's start ``360G-`` and the publisher's registered prefix. Our
  export writes the directory's own grants as ``<our prefix>-<ref>``
  (``DIRECTORY_GIVING360_PREFIX``; :func:`published_id`), so an id (and a ``parentGrant``)
  carrying our prefix is read as the ref it was made from (``Context.grant_ref``); another
  publisher's id, under its own prefix, is kept whole, as are ids with no prefix. So
  with organisations: our export writes one with no registered org-id (held as
  ``org:safer-london``) under our prefix (:func:`published_org_id`), read back as that
  ref (``Context.organisation_ref``); any other org-id is kept whole.
* Grants to individuals (``recipientIndividual``) are not imported: an error.
* Areas: every code is passed through ``Context.area_code``; codes outside London (and codes
  from ward vintages the geography does not hold) are dropped silently. The beneficiary
  location is preferred: codes from ``beneficiaryLocation`` (``geoCode``, or ``name``
  through ``Context.areas`` when there is no code) and GrantNav's ``locationLookup``
  entries derived from it. Only when those give no London area are the recipient's own
  codes used (GrantNav's ``recipientDistrictGeoCode`` / ``recipientWardNameGeoCode``,
  found in ``additional_data`` or, in GrantNav's flattened output, on the grant itself).
  A grant left with no London area at all gets a warning.
* Parent grants: the standard has no field saying a grant's money came through another
  grant (``regrantType`` marks the other end: the grant made to a grantmaker for onward
  distribution; ``relatedActivity`` names related grants without saying how they are
  related). We read our extension key ``parentGrant`` (a grant id string, or an object with
  ``id``), column "Parent Grant" in a spreadsheet. Our export also names the parent in
  ``relatedActivity`` (not read: ``parentGrant`` says it) and ends the description with
  :func:`paid_through_note` for a reader of GrantNav, which is read as the addition it is
  and taken off.
* ``regrantType`` must be a code from the standard's Regrant Type codelist (FRG010–FRG070):
  "a grant awarded to a single grantmaking organisation for onward distribution as grants
  to end recipients" (FRG010) and its kin. It is stored as read, on the grant that carries
  it; it does not make that grant a regrant (``parentGrant`` does).
* ``dateModified`` is not read. It says when the publisher last changed its copy of the
  grant; the directory's own ``updated_at`` says when the directory's record changed,
  which is what its change feed and our export's ``dateModified`` follow (the import sets
  it when, and only when, it changes the grant). A file's date is no fact about the grant
  to compare or keep, so a file differing from what is held only in it changes nothing,
  and our own export, read back, changes nothing.
* Amounts are pounds: grants in another currency are errors.
* Contact details of organisations and the grant's web address are not worth refusing a
  file for: a bad one is a warning and is left out.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from directory.ingest.readers import (
    ExcelError,
    ReadError,
    Table,
    above_warning,
    choose_sheet,
    ended_warning,
    normalise_header,
    read_table,
    sheet_heads,
)
from directory.ingest.records import (
    REGRANT_TYPES,
    Batch,
    Context,
    GrantRecord,
    OrganisationRecord,
)
from directory.ingest.values import (
    check_duration,
    clean_text,
    financial_year_of,
    months_between,
    parse_amount,
    parse_bool,
    parse_date,
    parse_email,
    parse_end_date,
    parse_financial_year,
    parse_int,
    parse_url,
    unstorable,
    unstorable_in,
    why_not_json,
)
from directory.store.models import Grant, Organisation, Programme

#: the 360Giving Regrant Type codelist (the standard's codelists/regrantType.csv, shipped
#: in directory/data/standards/360giving/codelists: :mod:`directory.ingest.codelists`)
REGRANT_TYPE_CODES = REGRANT_TYPES
#: our extension key naming the grant this grant's money came through
PARENT_GRANT_KEY = "parentGrant"
#: our extension key for the financial year the grant is counted in ("2016/17"), when it
#: is not the award date's (a decision signed in March for the year starting in April)
FINANCIAL_YEAR_KEY = "financialYear"
#: our extension key marking a grant as made-up example data (``true``; absent: real)
DEMO_KEY = "demo"

MAX_REF = 200  # identifiers longer than this are refused
MAX_NAME = 500  # names and titles are cut to this, with a warning
MAX_TEXT = 20_000  # descriptions likewise

_NCVO_BANDS = ("micro", "small", "medium", "large", "major")

Column = Callable[[str], str]


# -- shared helpers (also used by the Open Referral reader) ---------------------------------
#: what ``load_json`` returns for a file it could not read
UNREADABLE: Any = object()


def json_text(data: bytes, errors: str = "strict") -> str:
    """A JSON file's text: UTF-8, with or without a byte order mark (RFC 8259), or UTF-16
    or UTF-32, as Windows PowerShell 5's ``Out-File`` and Notepad's "Unicode" save it (a
    CSV file is read in UTF-16 too), told by the standard library's ``json.detect_encoding``
    (the byte order mark, or the zero bytes around the first characters). Raises
    UnicodeDecodeError (``errors`` strict)."""
    return data.decode(json.detect_encoding(data), errors)


def load_json(data: bytes | str, batch: Batch) -> Any:
    """Parse JSON from an upload; on failure record one error and return ``UNREADABLE``."""
    if isinstance(data, bytes | bytearray):
        try:
            text = json_text(bytes(data))
        except UnicodeDecodeError as exc:
            encoding = re.sub(r"-(SIG|LE|BE)$", "", exc.encoding.upper())
            batch.error(
                f"The file is not {encoding} text (byte {exc.start} cannot be read): save it "
                "as UTF-8 JSON."
            )
            return UNREADABLE
    else:
        text = data.removeprefix("\ufeff")
    if not text.strip():
        batch.error("The file is empty.")
        return UNREADABLE

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=no_constants)
    except (ValueError, RecursionError) as exc:
        batch.error(f"The file is not valid JSON: {why_not_json(exc)}.")
        return UNREADABLE
    if nested_deeper(document, MAX_JSON_DEPTH):
        # (the readers and the schema check walk it by recursion: 256 levels overflowed)
        batch.error(
            f"The file cannot be read: it is nested too deeply (more than {MAX_JSON_DEPTH} "
            "levels of lists and objects; a grant or a service needs a few)."
        )
        return UNREADABLE
    return document


#: the deepest nesting of lists and objects a JSON upload may have
MAX_JSON_DEPTH = 64


def nested_deeper(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` deep (walked without
    recursion, its lists and objects only)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        members = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        if members and depth >= limit:
            if any(isinstance(m, dict | list) for m in members):
                return True
            continue
        stack.extend((m, depth + 1) for m in members if isinstance(m, dict | list))
    return False


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


#: how every 360Giving grant identifier starts (the publisher's registered prefix follows)
GIVING360_ID_START = "360G-"


def is_360giving_id(grant_id: str) -> bool:
    """Whether ``grant_id`` is a 360Giving identifier already (a grant read from a
    360Giving file keeps the id its publisher gave it)."""
    return grant_id.upper().startswith(GIVING360_ID_START.upper())


def published_id(ref: str, prefix: str | None) -> str:
    """The 360Giving id our export writes for the grant held as ``ref``: a grant of our own
    (``MOPAC-DEC-026``) as ``<prefix>-<ref>``, the standard's form; one that has a 360Giving
    id already, or any grant when no prefix is set, as ``ref``."""
    if prefix is None or is_360giving_id(ref):
        return ref
    return f"{prefix}-{ref}"


def own_ref(grant_id: str, prefix: str | None) -> str:
    """The ref of the grant our export wrote as ``grant_id`` (:func:`published_id` undone):
    an id carrying our ``prefix`` loses it, unless what is left is a 360Giving id (which
    the export never prefixes); an id of another publisher's stays whole."""
    if prefix is None or not grant_id.startswith(f"{prefix}-"):
        return grant_id
    ref = grant_id[len(prefix) + 1 :]
    return grant_id if not ref.strip() or is_360giving_id(ref) else ref


#: how the directory's refs for organisations with no registered org-id begin
#: (``org:safer-london``: ``org:`` and a slug of the name)
OWN_ORGANISATION_START = "org:"


def published_org_id(ref: str, prefix: str | None) -> str:
    """The 360Giving id our export writes for the organisation held as ``ref``. 360Giving's
    guidance: an organisation with no registered org-id is identified under the
    publisher's own prefix, so one of ours with none (``org:safer-london``) is
    ``<prefix>-safer-london``; a registered org-id (``GB-CHC-1123456``), another
    publisher's ``360G-`` id, or any ref when no prefix is set, as it is. (A registered id
    is never made up for it.)"""
    if prefix is None or not ref.startswith(OWN_ORGANISATION_START):
        return ref
    return f"{prefix}-{ref[len(OWN_ORGANISATION_START) :]}"


def own_org_ref(org_id: str, prefix: str | None) -> str:
    """The ref of the organisation our export wrote as ``org_id`` (:func:`published_org_id`
    undone): an id carrying our ``prefix`` is ``org:`` and what follows it; any other id
    (a registered one, another publisher's) stays whole."""
    if prefix is None or not org_id.startswith(f"{prefix}-"):
        return org_id
    rest = org_id[len(prefix) + 1 :]
    return OWN_ORGANISATION_START + rest if rest.strip() else org_id


#: the description our export writes for a grant held with none (360Giving requires one).
#: Not the title: 360Giving's data-quality tool counts a description that repeats the title
#: as telling the reader nothing (its TitleDescriptionSame check)
NO_DESCRIPTION = "No description of this grant was published."


def placeholder_title(ref: str) -> str:
    """The title our export writes for a grant held with none (360Giving requires one)."""
    return f"Grant {ref}"


def paid_through_note(parent_ref: str) -> str:
    """The sentence our export ends the description of a grant paid through another with,
    so that a reader of the standard alone (GrantNav) knows not to add its amount to the
    parent's; the reader takes it off again."""
    return f"Paid through {parent_ref}: counted in that grant's amount."


def without_paid_through_note(description: Any, parent_ref: str | None) -> Any:
    """``description`` as the export had it before adding :func:`paid_through_note` for
    ``parent_ref`` (once, and only after other text, as the export adds it); any other
    value as it is."""
    if parent_ref is None or not isinstance(description, str):
        return description
    text = description.rstrip()
    ending = " " + paid_through_note(parent_ref)
    return text[: -len(ending)] if text.endswith(ending) else description


def as_text(value: Any) -> str | None:
    """Text from a JSON or spreadsheet scalar; None when blank. Whole numbers lose their
    ".0" (spreadsheets store charity numbers as numbers)."""
    if blank(value):
        return None
    if isinstance(value, bool | dict | list):
        kind = "true/false" if isinstance(value, bool) else "a list or object"
        raise ValueError(f"Expected text here, found {kind}.")
    if isinstance(value, float | Decimal) and _whole(value):
        value = int(value)
    try:
        return clean_text(str(value))
    except ValueError:
        return None


def _whole(value: float | Decimal) -> bool:
    try:
        # (compared first: int(1e999999999) has 10**9 digits, and abs() overflows)
        return -(10**18) < value < 10**18 and value == int(value)
    except (ValueError, OverflowError, ArithmeticError):
        return False


def objects(value: Any) -> list[Any]:
    """A JSON array of objects, tolerating a single object in its place."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    raise ValueError("Expected a list of objects here.")


def merge_organisation(orgs: dict[str, OrganisationRecord], org: OrganisationRecord) -> None:
    """Add ``org``, or fill the gaps of the record already held for its ref."""
    held = orgs.get(org.ref)
    if held is None:
        orgs[org.ref] = org
        return
    for f in fields(OrganisationRecord):
        if getattr(held, f.name) is None and getattr(org, f.name) is not None:
            setattr(held, f.name, getattr(org, f.name))


_LONDON_BOROUGH_CODE = re.compile(r"E09\d{6}")
_POLICE = re.compile(r"\bpolic(e|ing)\b", re.IGNORECASE)


def guess_organisation_type(
    ref: str, name: str | None = None, charity_number: str | None = None
) -> str | None:
    """One of records.ORGANISATION_TYPES from an org-id (org-id.guide prefixes), charity
    number and name; None when nothing says."""
    key = ref.upper()
    if key.startswith("GB-GOR-PC390"):  # the Mayor's Office for Policing and Crime
        return "police"
    if key.startswith("GB-NHS-"):
        return "nhs"
    if key.startswith(("GB-LAE-", "GB-LAS-", "GB-LANI-", "GB-UKLA-")):
        return "council"
    if key.startswith(("GB-CHC-", "GB-SC-", "GB-NIC-")) or charity_number:
        return "voluntary"
    if key.startswith(("GB-EDU-", "GB-UKPRN-")):
        return "education"
    if name and _POLICE.search(name):
        return "police"
    return None


#: how JSON text writes what no text may hold (:func:`~directory.ingest.values.unstorable`):
#: a control character, or half of a surrogate pair, escaped (raw, a control character is
#: not JSON inside a string and UTF-8 cannot carry a surrogate); DEL, U+FFFE and U+FFFF,
#: which JSON may hold raw. (A screen: an escaped line feed passes it too.)
_ESCAPED_UNSTORABLE = re.compile(
    rb"\\u(?:00[01][0-9a-fA-F]|007[fF]|[dD][89a-fA-F]|[fF]{3}[eEfF])|\x7f|\xef\xbf[\xbe\xbf]"
)


def may_hold_unstorable(data: bytes | str) -> bool:
    """Whether a JSON file's text may hold text that cannot be stored: one scan of the
    file, so that a file without (all but every one) skips looking at each record's
    texts, which takes as long as parsing it."""
    if isinstance(data, bytes) and not json.detect_encoding(data).startswith("utf-8"):
        data = json_text(data, "replace")  # (its escapes are not UTF-8 bytes)
    if isinstance(data, str):
        return unstorable(data) is not None or may_hold_unstorable(data.encode("utf-8", "replace"))
    return _ESCAPED_UNSTORABLE.search(data) is not None


def unstorable_text(batch: Batch, record: Any, row: int, column: Column) -> bool:
    """Whether any text of a JSON record (a member's name too) cannot be stored (a NUL
    character, half of a surrogate pair: :func:`~directory.ingest.values.unstorable`); each
    is an error of its row and field. Such a record is not read further: the text would
    fail the schema check and the database as it was written."""
    found = False
    for path, why in unstorable_in(record):
        batch.error(f"The text {why}.", row=row, column=column(path))
        found = True
    return found


#: a field path's list indices, which a reader's limits leave out ("fundingOrganization[].id")
_INDEX = re.compile(r"\[\d+\]")


def stored_limits(fields: dict[str, Any]) -> dict[str, int]:
    """Field path (indices as ``[]``) → the most characters the database keeps of it, from
    the model column its text is stored in."""
    return {path: column.type.length for path, column in fields.items()}


class RowProblems:
    """Problems for one record: knows its row and how to name a field path as a column.
    ``limits`` (:func:`stored_limits`) makes text longer than the database keeps an error
    of the record's row and field as the file names it (found by the import, it named the
    database's field, ``name``, and no row)."""

    def __init__(
        self, batch: Batch, row: int, column: Column, limits: dict[str, int] | None = None
    ) -> None:
        self.batch = batch
        self.row = row
        self.column = column
        self.limits = limits or {}
        self.failed = False

    def error(self, path: str, message: str, value: Any = None) -> None:
        self.failed = True
        self.batch.error(message, row=self.row, column=self.column(path), value=_shown(value))

    def warning(self, path: str, message: str, value: Any = None) -> None:
        self.batch.warning(message, row=self.row, column=self.column(path), value=_shown(value))

    def parse(
        self,
        path: str,
        value: Any,
        parser: Callable[[Any], Any],
        *,
        missing: str | None = None,
        warn: bool = False,
    ) -> Any:
        """``parser(value)``, or None after recording the ValueError (a warning if ``warn``).
        A blank value is None, and an error if ``missing`` (its message) is given. A
        spreadsheet cell holding Excel's error value is None and the record's failure, said
        as its cell's problem when the sheet was read (:func:`read_360giving_table`)."""
        if isinstance(value, ExcelError):
            self.failed = True
            return None
        if blank(value):
            if missing:
                self.error(path, missing)
            return None
        try:
            parsed = parser(value)
        except ValueError as exc:
            (self.warning if warn else self.error)(path, str(exc), value)
            return None
        if isinstance(parsed, str) and (limit := self._over(path, parsed)) is not None:
            self.error(
                path,
                f"{_named(self, path)} is {len(parsed)} characters long; at most {limit} are kept.",
                parsed[:60] + "…",
            )
        return parsed

    def _over(self, path: str, text: str) -> int | None:
        """The database's limit for the field at ``path`` when ``text`` is longer."""
        limit = self.limits.get(_INDEX.sub("[]", path))
        return limit if limit is not None and len(text) > limit else None

    def text(
        self, path: str, value: Any, limit: int = MAX_NAME, *, missing: str | None = None
    ) -> str | None:
        text = self.parse(path, value, as_text, missing=missing)
        if text is None:
            return None
        if len(text) > limit and self._over(path, text) is None:
            self.warning(path, f"Cut to {limit} characters (it was {len(text)}).", text)
            text = text[: limit - 1] + "…"
        return text

    def ref(self, path: str, value: Any, *, missing: str | None = None) -> str | None:
        text = self.parse(path, value, as_text, missing=missing)
        if text is None:
            return None
        if len(text) > MAX_REF or "\n" in text:
            if self._over(path, text) is None:  # (else said: too long for the database)
                self.error(
                    path, f"An identifier must be one line of at most {MAX_REF} characters.", text
                )
            return None
        return text

    def objects(self, path: str, value: Any) -> list[tuple[str, dict[str, Any]]]:
        """(path, object) for each object of a JSON array; errors for anything else."""
        try:
            items = objects(value)
        except ValueError as exc:
            self.error(path, str(exc), value)
            return []
        found = []
        for i, item in enumerate(items):
            if isinstance(item, dict):
                found.append((f"{path}[{i}]", item))
            elif not blank(item):
                self.error(f"{path}[{i}]", "Expected an object here.", item)
        return found


def _named(p: RowProblems, path: str) -> str:
    """A field as a message names it: its column title in a spreadsheet, its path within
    the record in JSON (the problem's column has the whole path)."""
    column = p.column(path)
    return path if column.endswith(path) else column


def _shown(value: Any) -> Any:
    if isinstance(value, dict | list):
        try:
            return json.dumps(value, default=str)[:200]
        except (TypeError, ValueError, RecursionError):
            return type(value).__name__
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- the grant mapping ----------------------------------------------------------------------
def _org_limits(key: str) -> dict[str, Any]:
    org = Organisation.__table__.c
    return {
        f"{key}[].id": org.ref, f"{key}[].name": org.name,
        f"{key}[].charityNumber": org.charity_number,
        f"{key}[].companyNumber": org.company_number,
        f"{key}[].url": org.website, f"{key}[].email": org.email,
    }  # fmt: skip


#: the grant's fields the database keeps no more than so much of (a title longer than it
#: keeps is cut, with a warning, to ``MAX_NAME``, as much as it keeps)
_LIMITS = stored_limits(
    {
        "id": Grant.__table__.c.ref,
        PARENT_GRANT_KEY: Grant.__table__.c.parent_ref,
        f"{PARENT_GRANT_KEY}.id": Grant.__table__.c.parent_ref,
        "url": Grant.__table__.c.source_url,
        "dataSource": Grant.__table__.c.source_url,
        "grantProgramme[].title": Programme.__table__.c.name,
        "grantProgramme[].code": Programme.__table__.c.name,
        **_org_limits("fundingOrganization"),
        **_org_limits("recipientOrganization"),
    }
)


class _GrantReader:
    def __init__(self, ctx: Context, batch: Batch) -> None:
        self.ctx = ctx
        self.batch = batch
        self.orgs: dict[str, OrganisationRecord] = {}
        self.seen: dict[str, int] = {}

    def finish(self) -> Batch:
        self.batch.organisations.extend(self.orgs.values())
        return self.batch

    def grant(self, raw: Any, row: int, column: Column) -> None:
        p = RowProblems(self.batch, row, column, _LIMITS)
        if not isinstance(raw, dict):
            p.error("", "Each grant must be a JSON object.", raw)
            return
        published = p.ref("id", raw.get("id"), missing="The grant has no identifier (id).")
        # our own export's ids carry our 360Giving prefix, which our refs do not
        ref = None if published is None else self.ctx.grant_ref(published)
        if ref is not None and ref in self.seen:
            p.error(
                "id", f"Grant {ref} appears more than once (first at row {self.seen[ref]}).", ref
            )
            return
        if ref is not None:
            self.seen[ref] = row

        orgs: list[OrganisationRecord] = []
        before = len(self.batch.problems)
        funders = p.objects("fundingOrganization", raw.get("fundingOrganization"))
        funder_ref = None
        if not funders and len(self.batch.problems) == before:
            p.error("fundingOrganization[0].id", "The grant has no funding organisation.")
        elif funders:
            if len(funders) > 1:
                p.warning("fundingOrganization", "Only the first funding organisation is recorded.")
            funder = self._organisation(p, *funders[0], role="funding", additional=None)
            if funder is not None:
                orgs.append(funder)
                funder_ref = funder.ref

        recipient_ref = None
        if not blank(raw.get("recipientIndividual")) and raw.get("recipientIndividual") != {}:
            p.error("recipientIndividual", "Grants to individuals are not imported.")
        else:
            before = len(self.batch.problems)
            recipients = p.objects("recipientOrganization", raw.get("recipientOrganization"))
            if not recipients and len(self.batch.problems) == before:
                p.error("recipientOrganization[0].id", "The grant has no recipient organisation.")
            elif recipients:
                if len(recipients) > 1:
                    p.warning(
                        "recipientOrganization",
                        "Only the first recipient organisation is recorded.",
                    )
                additional = raw.get("additional_data")
                recipient = self._organisation(
                    p,
                    *recipients[0],
                    role="recipient",
                    additional=additional if isinstance(additional, dict) else None,
                )
                if recipient is not None:
                    orgs.append(recipient)
                    recipient_ref = recipient.ref

        amount = p.parse(
            "amountAwarded",
            raw.get("amountAwarded"),
            _amount,
            missing="The grant has no amount awarded (amountAwarded).",
        )
        currency = p.parse("currency", raw.get("currency"), _currency) or "GBP"
        awarded = p.parse(
            "awardDate",
            raw.get("awardDate"),
            parse_date,
            missing="The grant has no award date (awardDate).",
        )

        start = end = duration = None
        planned = p.objects("plannedDates", raw.get("plannedDates"))
        if planned:
            path, dates = planned[0]
            start = p.parse(f"{path}.startDate", dates.get("startDate"), parse_date)
            end = p.parse(f"{path}.endDate", dates.get("endDate"), parse_end_date)
            duration = p.parse(f"{path}.duration", dates.get("duration"), _months)
            if start and end and end < start:  # publishers' placeholders, e.g. 2000-12-31
                # neither date can be trusted, and a start alone would read as live for
                # ever: with no dates the grant's status is unknown, live on no day
                p.warning(
                    f"{path}.endDate",
                    f"The end date is before the start date ({start:%d/%m/%Y}): both dates "
                    "are left out, so the grant's dates are unknown and it is counted live on "
                    "no day.",
                    dates.get("endDate"),
                )
                start = end = None
            if duration is not None:
                try:
                    check_duration(
                        duration, start, end, name=_named(p, f"{path}.duration"),
                        dates=f"{_named(p, f'{path}.startDate')} and "
                        f"{_named(p, f'{path}.endDate')}",
                    )  # fmt: skip
                except ValueError as exc:
                    # the template's rule, but a warning: a publisher's file is not the
                    # officer's to correct (Lloyds Bank Foundation publishes the funded
                    # months, 36, beside end dates that take in extensions, 41 months on)
                    p.warning(
                        f"{path}.duration",
                        (f"Grant {ref}: " if ref else "") + f"{exc} It is left out"
                        + (": the grant's length is taken from the dates." if start and end
                           else "."),
                        dates.get("duration"),
                    )  # fmt: skip
                    duration = None
            if duration is None and start and end:
                duration = months_between(start, end)

        programme = None
        programmes = p.objects("grantProgramme", raw.get("grantProgramme"))
        if programmes:
            path, prog = programmes[0]
            key = "title" if not blank(prog.get("title")) else "code"
            name = p.text(f"{path}.{key}", prog.get(key))
            if name:
                try:
                    programme = self.ctx.programme(name)
                except ValueError as exc:
                    p.warning(f"{path}.{key}", str(exc), name)

        regrant = p.parse("regrantType", raw.get("regrantType"), _regrant_type)
        published_parent = self._parent(p, raw.get(PARENT_GRANT_KEY))
        parent = None if published_parent is None else self.ctx.grant_ref(published_parent)
        if parent is not None and parent == ref:
            p.error(PARENT_GRANT_KEY, "A grant cannot be its own parent grant.", parent)

        source_url = None
        for key in ("url", "dataSource"):
            source_url = p.parse(key, raw.get(key), parse_url, warn=True)
            if source_url:
                break

        areas = self._areas(p, raw)
        # what our export writes for a grant with no title or no description (the standard
        # requires both) is read as the blank it stands for, and what it adds to the
        # description of a grant paid through another is taken off
        # (both name grants by the ids the file gives them)
        title = p.text("title", raw.get("title"))
        description = p.text(
            "description",
            without_paid_through_note(raw.get("description"), published_parent),
            MAX_TEXT,
        )
        if description is not None and description in (title, NO_DESCRIPTION):
            description = None
        if title is not None and published is not None and title == placeholder_title(published):
            title = None
        demo = bool(p.parse(DEMO_KEY, raw.get(DEMO_KEY), parse_bool))
        year = None
        if not blank(raw.get(FINANCIAL_YEAR_KEY)):
            year = p.parse(FINANCIAL_YEAR_KEY, raw.get(FINANCIAL_YEAR_KEY), parse_financial_year)

        if p.failed or ref is None or funder_ref is None or recipient_ref is None:
            return
        for org in orgs:
            merge_organisation(self.orgs, org)
        if parent is not None:  # for the import's error should it make a loop
            self.batch.paid_through_rows[ref] = (p.row, p.column(PARENT_GRANT_KEY))
        self.batch.grants.append(
            GrantRecord(
                ref=ref,
                funder_ref=funder_ref,
                recipient_ref=recipient_ref,
                title=title,
                description=description,
                programme=programme,
                amount=amount,
                currency=currency,
                awarded=awarded,
                start=start,
                end=end,
                duration_months=duration,
                financial_year=year or (financial_year_of(awarded) if awarded else None),
                areas=areas,
                regrant_type=regrant,
                parent_ref=parent,
                source_url=source_url,
                service_refs=None,
                demo=demo,
            )
        )

    def _organisation(
        self,
        p: RowProblems,
        path: str,
        org: dict[str, Any],
        *,
        role: str,
        additional: dict[str, Any] | None,
    ) -> OrganisationRecord | None:
        published = p.ref(
            f"{path}.id", org.get("id"), missing=f"The {role} organisation has no identifier."
        )
        # our own export's organisations with no registered id carry our 360Giving prefix
        ref = None if published is None else self.ctx.organisation_ref(published)
        name = p.text(f"{path}.name", org.get("name"))
        charity = p.text(f"{path}.charityNumber", org.get("charityNumber"), 40)
        company = p.text(f"{path}.companyNumber", org.get("companyNumber"), 40)
        website = p.parse(f"{path}.url", org.get("url"), parse_url, warn=True)
        email = p.parse(f"{path}.email", org.get("email"), parse_email, warn=True)
        description = p.text(f"{path}.description", org.get("description"), MAX_TEXT)
        if ref is None:
            return None
        charity = charity or _number_in(ref, ("GB-CHC-", "GB-SC-", "GB-NIC-"))
        company = company or _number_in(ref, ("GB-COH-",))
        if name is None:
            p.warning(
                f"{path}.name", f"The {role} organisation has no name: its identifier is used."
            )
            name = ref
        return OrganisationRecord(
            ref=ref,
            name=name,
            type=guess_organisation_type(ref, name, charity),
            charity_number=charity,
            company_number=company,
            size_band=_size_band(additional) if additional is not None else None,
            website=website,
            email=email,
            description=description,
        )

    def _parent(self, p: RowProblems, value: Any) -> str | None:
        if isinstance(value, dict):
            return p.ref(f"{PARENT_GRANT_KEY}.id", value.get("id"))
        return p.ref(PARENT_GRANT_KEY, value)

    # -- areas --------------------------------------------------------------------------
    def _areas(self, p: RowProblems, raw: dict[str, Any]) -> list[str]:
        additional = raw.get("additional_data")
        additional = additional if isinstance(additional, dict) else {}
        lookups = [
            x for x in objects_or_none(additional.get("locationLookup")) if isinstance(x, dict)
        ]
        any_code = False

        beneficiary: list[str] = []
        for path, loc in p.objects("beneficiaryLocation", raw.get("beneficiaryLocation")):
            code = p.text(f"{path}.geoCode", loc.get("geoCode"), 40)
            if code:
                any_code = True
                self._add(beneficiary, code, p, f"{path}.geoCode")
                continue
            name = p.text(f"{path}.name", loc.get("name"))
            if name:
                any_code = True
                try:
                    _extend(beneficiary, self.ctx.areas(name))
                except ValueError as exc:
                    p.warning(f"{path}.name", f"Beneficiary location not used: {exc}", name)
        for look in lookups:
            if look.get("source") == "beneficiaryLocation":
                any_code = True
                for code in _lookup_codes(look):
                    self._add(beneficiary, code, p, "additional_data.locationLookup")
        if beneficiary:
            return beneficiary

        recipient: list[str] = []
        for key in ("recipientDistrictGeoCode", "recipientWardNameGeoCode"):
            for where in (additional, raw):
                code = where.get(key)
                if isinstance(code, str) and code.strip():
                    any_code = True
                    self._add(recipient, code.strip(), p, key)
        for look in lookups:
            if look.get("source") != "beneficiaryLocation":
                any_code = True
                for code in _lookup_codes(look):
                    self._add(recipient, code, p, "additional_data.locationLookup")
        if not recipient:
            p.warning(
                "beneficiaryLocation",
                "No London area found for this grant: its location codes are outside London or "
                "from boundaries we do not hold."
                if any_code
                else "No London area found for this grant: it has no beneficiary location.",
            )
        return recipient

    def _add(self, codes: list[str], code: str, p: RowProblems, path: str) -> None:
        try:
            found = self.ctx.area_code(code)
        except ValueError:
            found = None
        if found is None and _LONDON_BOROUGH_CODE.fullmatch(code.strip().upper()):
            # E09 is London's own series: an unknown one is a typing error, not somewhere else
            p.error(
                path,
                f"{code} looks like a London borough code but there is no such borough: "
                "London's 33 are E09000001 to E09000033.",
                code,
            )
        if found is not None and found not in codes:
            codes.append(found)


def _number_in(ref: str, prefixes: tuple[str, ...]) -> str | None:
    """The register number in an org-id (``GB-CHC-1123456`` → ``1123456``)."""
    for prefix in prefixes:
        if ref.upper().startswith(prefix) and len(ref) > len(prefix):
            return ref[len(prefix) :]
    return None


def objects_or_none(value: Any) -> list[Any]:
    try:
        return objects(value)
    except ValueError:
        return []


def _lookup_codes(look: dict[str, Any]) -> Iterable[str]:
    """Codes from a GrantNav ``locationLookup`` entry: the area itself unless it is a small
    statistical area, and its local authority district."""
    if look.get("areatype") not in ("lsoa", "msoa", "oa", "postcode") and isinstance(
        look.get("areacode"), str
    ):
        yield look["areacode"]
    for key in ("ladcd_active", "ladcd"):
        if isinstance(look.get(key), str):
            yield look[key]


def _extend(codes: list[str], more: Iterable[str]) -> None:
    for code in more:
        if code not in codes:
            codes.append(code)


def _amount(value: Any) -> Decimal:
    return parse_amount(value)  # rejects negative amounts, other currencies, true/false


def _months(value: Any) -> int:
    months = parse_int(value)
    if months < 0:
        raise ValueError(f"'{months}' is negative; a duration is a number of months")
    return months


def _currency(value: Any) -> str:
    code = (as_text(value) or "").upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError("A currency must be a three-letter ISO 4217 code such as GBP.")
    if code != "GBP":
        raise ValueError(f"Only grants in pounds (GBP) can be imported; this one is in {code}.")
    return code


def _regrant_type(value: Any) -> str:
    code = (as_text(value) or "").upper()
    if code not in REGRANT_TYPE_CODES:
        raise ValueError(
            "Not a 360Giving Regrant Type code: use one of " + ", ".join(REGRANT_TYPE_CODES) + "."
        )
    return code


def _size_band(additional: dict[str, Any]) -> str | None:
    """An NCVO size band from GrantNav's additional data: an explicit band, or the latest
    income of the recipient's registered charity."""
    for key in ("recipientOrganizationSizeBand", "sizeBand"):
        band = additional.get(key)
        if isinstance(band, str) and band.strip().lower() in _NCVO_BANDS:
            return band.strip().lower()
    for info in objects_or_none(additional.get("recipientOrgInfos")):
        income = info.get("latestIncome") if isinstance(info, dict) else None
        if (
            isinstance(income, int | float | Decimal)
            and not isinstance(income, bool)
            and income >= 0
        ):
            for limit, band in (
                (10_000, "micro"),
                (100_000, "small"),
                (1_000_000, "medium"),
                (10_000_000, "large"),
            ):
                if income < limit:
                    return band
            return "major"
    return None


# -- the JSON package -------------------------------------------------------------------------
def read_360giving_json(data: bytes | str, ctx: Context) -> Batch:
    """Read a 360Giving JSON package (``{"grants": [...]}``; a bare list of grants is
    accepted too). Problems name the grant's index (``row``, from 1) and its JSON path
    (``grants[0].amountAwarded`` for row 1)."""
    batch = Batch()
    package = load_json(data, batch)
    if package is UNREADABLE:
        return batch
    if isinstance(package, dict) and "grants" in package:
        grants, prefix = package["grants"], "grants"
        if not isinstance(grants, list):
            batch.error('"grants" must be a list of grants.', column="grants")
            return batch
    elif isinstance(package, list):
        grants, prefix = package, ""
    else:
        batch.error(
            'Not a 360Giving JSON package: expected an object with a "grants" list (or a list '
            f"of grants), found {_kind(package)}."
        )
        return batch
    if not grants:
        batch.error("The file contains no grants.")
        return batch
    reader = _GrantReader(ctx, batch)
    checked = _SchemaCheck(batch)
    screen = may_hold_unstorable(data)
    for index, grant in enumerate(grants):
        base = f"{prefix}[{index}]"

        def column(path: str, base: str = base) -> str:
            return f"{base}.{path}" if path else base

        if screen and unstorable_text(batch, grant, index + 1, column):
            continue
        checked.grant(grant, index + 1, base)
        reader.grant(grant, index + 1, column)
    checked.finish()
    return reader.finish()


#: the standard's grant schema (1.4.3), shipped with the project (directory/data/README.md)
GRANT_SCHEMA = (
    Path(__file__).resolve().parent.parent
    / "data"
    / "standards"
    / "360giving"
    / "360-giving-schema.json"
)
#: at most this many schema warnings are listed for one file; the rest are counted
MAX_SCHEMA_WARNINGS = 1000


@functools.cache
def _grant_validator() -> Any:
    import jsonschema_rs

    schema = json.loads(GRANT_SCHEMA.read_text("utf-8"))
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


class _SchemaCheck:
    """Each grant of a JSON package checked against the 360Giving schema: what is not valid
    (``fromOpenCall: "Y"``, a dd/mm/yyyy ``awardDate``, a ``dateModified`` that is no
    date-time) is a warning naming the grant and its JSON path. It blocks nothing: what the
    directory cannot read is an error of the reader's own."""

    def __init__(self, batch: Batch) -> None:
        self.batch, self.count = batch, 0

    def grant(self, grant: Any, row: int, base: str) -> None:
        if not isinstance(grant, dict):
            return
        for error in _grant_validator().iter_errors(grant):
            self.count += 1
            if self.count > MAX_SCHEMA_WARNINGS:
                continue
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path)
            instance = error.instance
            message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
            self.batch.warning(
                f"Not valid 360Giving (schema 1.4): {message}",
                row=row, column=base + path,
                value=instance if isinstance(instance, str | int | float) else None,
            )  # fmt: skip

    def finish(self) -> None:
        if self.count > MAX_SCHEMA_WARNINGS:
            self.batch.warning(
                f"… and {self.count - MAX_SCHEMA_WARNINGS:,} more places not valid against the "
                f"360Giving schema ({self.count:,} in all)."
            )


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return 'an object without a "grants" list'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return "a number"


# -- the flat spreadsheet ---------------------------------------------------------------------
_ORG = (
    ("id", "Identifier"),
    ("name", "Name"),
    ("charityNumber", "Charity Number"),
    ("companyNumber", "Company Number"),
    ("streetAddress", "Street Address"),
    ("addressLocality", "City"),
    ("addressRegion", "County"),
    ("addressCountry", "Country"),
    ("postalCode", "Postal Code"),
    ("description", "Description"),
    ("url", "Web Address"),
    ("email", "Email"),
    ("department", "Department"),
    ("organisationType", "Organisation Type"),
)
_LOCATION = (
    ("id", "Identifier"),
    ("name", "Name"),
    ("countryCode", "Country Code"),
    ("latitude", "Latitude"),
    ("longitude", "Longitude"),
    ("geoCode", "Geographic Code"),
    ("geoCodeType", "Geographic Code Type"),
    ("description", "Description"),
)
_EVENT = (
    ("startDate", "Start Date"),
    ("endDate", "End Date"),
    ("duration", "Duration (months)"),
    ("title", "Title"),
    ("description", "Description"),
)
_PROGRAMME = (("code", "Code"), ("title", "Title"), ("url", "URL"), ("description", "Description"))
_PERSON = (("id", "Identifier"), ("name", "Name"))
#: (JSON key, column title, is an array, fields)
_OBJECTS = (
    ("recipientOrganization", "Recipient Org", True, _ORG),
    ("fundingOrganization", "Funding Org", True, _ORG),
    ("beneficiaryLocation", "Beneficiary Location", True, _LOCATION),
    ("plannedDates", "Planned Dates", True, _EVENT),
    ("grantProgramme", "Grant Programme", True, _PROGRAMME),
    ("recipientIndividual", "Recipient Ind", False, _PERSON),
)
#: (JSON path, column title): top-level fields; later titles for a path are aliases
_SCALARS = (
    ("id", "Identifier"),
    ("title", "Title"),
    ("description", "Description"),
    ("currency", "Currency"),
    ("amountAwarded", "Amount Awarded"),
    ("awardDate", "Award Date"),
    ("url", "URL"),
    ("dataSource", "Data Source"),
    ("regrantType", "For Regrant Type"),
    ("regrantType", "Regrant Type"),
    (PARENT_GRANT_KEY, "Parent Grant"),
    (DEMO_KEY, "Demo"),
    ("dateModified", "Last Modified"),
    ("fromOpenCall", "From An Open Call?"),
    ("locationScope", "Location Scope"),
    # GrantNav's CSV export
    ("additional_data.recipientDistrictGeoCode", "Recipient District Geographical Code"),
    ("additional_data.recipientWardNameGeoCode", "Recipient Ward Geographical Code"),
)
_REQUIRED_COLUMNS = (
    "Identifier",
    "Amount Awarded",
    "Award Date",
    "Funding Org:Identifier",
    "Recipient Org:Identifier",
)


class _Columns:
    """Normalised spreadsheet heading → JSON path, and JSON path → column title."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}
        self.titles: dict[str, str] = {}
        self.numbered: list[tuple[re.Pattern[str], str, str, dict[str, tuple[str, str]]]] = []
        for path, title in _SCALARS:
            self.paths.setdefault(normalise_header(title), path)
            self.titles.setdefault(path, title)
        for key, title, is_array, field_titles in _OBJECTS:
            self.titles[key] = title
            by_field: dict[str, tuple[str, str]] = {}
            for field_key, field_title in field_titles:
                path = f"{key}[0].{field_key}" if is_array else f"{key}.{field_key}"
                self.paths.setdefault(normalise_header(f"{title}:{field_title}"), path)
                self.titles.setdefault(path, f"{title}:{field_title}")
                by_field[normalise_header(field_title)] = (field_key, field_title)
            if is_array:
                pattern = re.compile(rf"^{re.escape(normalise_header(title))}_(\d+)_(.+)$")
                self.numbered.append((pattern, key, title, by_field))

    def path(self, heading: str) -> tuple[str, str] | None:
        """(JSON path, column title) for a normalised heading, or None if we do not read it."""
        if heading in self.paths:
            path = self.paths[heading]
            return path, self.titles[path]
        for pattern, key, title, by_field in self.numbered:
            match = pattern.match(heading)
            if match and match.group(2) in by_field:
                index = int(match.group(1))
                if index > 99:
                    return None
                field_key, field_title = by_field[match.group(2)]
                return f"{key}[{index}].{field_key}", f"{title}:{index}:{field_title}"
        return None


_COLUMNS: _Columns | None = None


def _columns() -> _Columns:
    global _COLUMNS
    if _COLUMNS is None:
        _COLUMNS = _Columns()
    return _COLUMNS


_STEP = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?")


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a path such as ``beneficiaryLocation[1].geoCode``."""
    steps = path.split(".")
    node: Any = target
    for n, step in enumerate(steps):
        match = _STEP.fullmatch(step)
        assert match is not None
        key, index = match.group(1), match.group(2)
        last = n == len(steps) - 1
        if index is None:
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            items = node.setdefault(key, [])
            while len(items) <= int(index):
                items.append({})
            node = items[int(index)]
    return None


def read_360giving_table(
    source: Path | bytes, ctx: Context, *, format: str | None = None, name: str | None = None
) -> Batch:
    """Read a 360Giving flat spreadsheet (CSV or XLSX, the standard's column titles such as
    "Amount Awarded" and "Recipient Org:Identifier"; numbered columns such as
    "Beneficiary Location:1:Geographic Code" add further locations). The headings may be
    below a title (a warning names the row taken). In a workbook the sheet of grants is
    read (:func:`_read`), and the sheets the standard's template gives a grant's parts, one
    a row keyed by the grant's Identifier (:data:`PART_SHEETS`). Problems name the
    spreadsheet row and the column title, and the sheet when it is not the grants'."""
    batch = Batch()
    try:
        table, parts = _read(source, format, name)
    except ReadError as exc:
        batch.error(exc.reason, row=exc.row, column=exc.column, value=exc.value)
        return batch
    columns = _columns()
    headings = {key: columns.path(key) for key in table.keys}
    present = set(headings).union(*(part.keys for part, _ in parts))
    missing = [t for t in _REQUIRED_COLUMNS if normalise_header(t) not in present]
    if (
        "Recipient Org:Identifier" in missing
        and normalise_header("Recipient Ind:Identifier") in present
    ):
        missing.remove("Recipient Org:Identifier")
    if missing:
        batch.error(
            "The spreadsheet has no "
            + ", ".join(f'"{m}"' for m in missing)
            + " column: use the 360Giving column titles."
        )
        return batch
    if not table.rows:
        batch.error("The spreadsheet contains no grants.")
        return batch
    if (note := above_warning(table)) is not None:
        batch.warning(note, row=table.header_at)
    if (note := ended_warning(table)) is not None:
        batch.warning(note, row=table.ended_at)
    grants: list[tuple[int, dict[str, Any], dict[str, str], list[tuple[str, ExcelError]]]] = []
    by_id: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
    for row in table.rows:
        grant: dict[str, Any] = {}
        titles: dict[str, str] = {}
        failed: list[tuple[str, ExcelError]] = []  # (the column, Excel's error value)
        for key, value in row.values.items():
            mapped = headings.get(key)
            if mapped is None or blank(value):
                continue
            path, _title = mapped
            # (an Excel error value is kept: the grant's reading takes it for no value)
            _put(grant, path, value.strip() if isinstance(value, str) else value)
            titles[path] = table.column(key)
            if isinstance(value, ExcelError):
                failed.append((titles[path], value))
        if not grant:
            continue
        grants.append((row.number, grant, titles, failed))
        if (ref := _identifier(grant.get("id"))) is not None:
            by_id.setdefault(ref, (grant, titles))  # (a repeat is the reader's error)
    for part, key in parts:
        _add_parts(part, key, by_id, table.sheet or "grants", batch)
    reader = _GrantReader(ctx, batch)
    for number, grant, titles, failed in grants:

        def column(path: str, titles: dict[str, str] = titles) -> str:
            return titles.get(path) or columns.titles.get(path) or path

        for title, error in failed:  # each its cell's problem, the row's others still read
            batch.error(error.problem, row=number, column=title, value=str(error))
        reader.grant(grant, number, column)
    return reader.finish()


def _identifier(value: Any) -> str | None:
    """A grant's Identifier cell as text (None: blank, or not text)."""
    if isinstance(value, ExcelError):
        return None
    try:
        return as_text(value)
    except ValueError:
        return None


def _add_parts(
    part: Table, key: str, by_id: dict[str, tuple[dict[str, Any], dict[str, str]]],
    grants_sheet: str, batch: Batch,
) -> None:  # fmt: skip
    """Add a part sheet's rows to their grants (``key``: the part's JSON key, such as
    ``beneficiaryLocation``), after those the grants sheet gives; a row whose part has the
    ``id`` of one the grant has fills its blanks instead (flatten-tool's merge). A row
    naming no grant, or one not on the grants sheet, is an error of its sheet and row."""
    columns = _columns()
    sheet = part.sheet or key
    prefix = f"{key}[0]."
    if (note := ended_warning(part)) is not None:
        batch.warning(f"Sheet '{sheet}': {note}", row=part.ended_at)
    for row in part.rows:
        item: dict[str, Any] = {}
        shown: dict[str, str] = {}
        for cell, value in row.values.items():
            is_id = cell == "identifier"
            mapped = columns.path(cell) if not is_id else None
            ours = mapped is not None and mapped[0].startswith(prefix)
            if isinstance(value, ExcelError) and (is_id or ours):
                # its cell's problem, named by its sheet and row; kept, the grant's reading
                # takes it for no value (and says nothing more of it)
                batch.error(
                    value.problem, row=row.number,
                    column=f"{part.column(cell)} (sheet '{sheet}')", value=str(value),
                )  # fmt: skip
            if not ours or blank(value):
                continue
            assert mapped is not None
            field = mapped[0].removeprefix(prefix)
            item[field] = value.strip() if isinstance(value, str) else value
            shown[field] = f"{part.column(cell)} (sheet '{sheet}', row {row.number})"
        if not item:
            continue
        if isinstance(row.values.get("identifier"), ExcelError):
            continue  # (said: whose grant the row is, no one knows)
        ref = _identifier(row.values.get("identifier"))
        if ref is None or ref not in by_id:
            batch.error(
                f"Row {row.number} of sheet '{sheet}' "
                + (
                    "has no Identifier: give the Identifier of the grant it belongs to."
                    if ref is None
                    else f"is for grant {ref}, which is not on sheet '{grants_sheet}': "
                    "correct the Identifier, or add the grant."
                ),
                row=row.number, column=f"Identifier (sheet '{sheet}')", value=ref,
            )  # fmt: skip
            continue
        grant, titles = by_id[ref]
        items = grant.setdefault(key, [])
        if not isinstance(items, list):  # (a column with no number: an object, not a list)
            items = grant[key] = [items]
        same = next(
            (
                n for n, held in enumerate(items)
                if "id" in item and isinstance(held, dict)
                and _identifier(held.get("id")) == _identifier(item["id"])
            ),
            None,
        )  # fmt: skip
        if same is None:
            items.append(item)
            index, given = len(items) - 1, list(item)
        else:
            index = same
            given = [field for field in item if blank(items[same].get(field))]
            items[same].update({field: item[field] for field in given})
        for field in given:
            titles[f"{key}[{index}].{field}"] = shown[field]


#: the keys of the headings of a flat spreadsheet's grants (the other sheets of the
#: standard's template, "Meta", "Funding Org" …, lack "Amount Awarded")
GRANT_KEYS = frozenset({"identifier", "amount_awarded"})
#: the grant's parts that the standard's spreadsheet template (flatten-tool's layout) puts
#: on sheets of their own, one a row keyed by the grant's "Identifier" (its other such
#: sheets hold what we do not import: actual dates, classifications …)
PART_SHEETS = (
    "beneficiaryLocation",
    "plannedDates",
    "recipientOrganization",
    "fundingOrganization",
    "grantProgramme",
)
_PART_TITLES = {
    normalise_header(title): key for key, title, _array, _fields in _OBJECTS if key in PART_SHEETS
}


def are_grant_headings(keys: frozenset[str]) -> bool:
    """Whether a row is a 360Giving grants sheet's headings, not a title above them."""
    return keys >= GRANT_KEYS


def _grants_or_part(keys: frozenset[str]) -> bool:
    """Whether a row is the headings of the grants sheet or of a part sheet."""
    return are_grant_headings(keys) or (
        "identifier" in keys
        and any(key.startswith(f"{title}_") for key in keys for title in _PART_TITLES)
    )


def _part_of(table: Table) -> str | None:
    """The JSON key of the part a sheet holds, by its headings as written: "Identifier"
    and "<part>:<field>" for one part of :data:`PART_SHEETS` (a part of a part, such as
    "Recipient Org:Location:Name", is another sheet's)."""
    parts = set()
    for heading in table.columns:
        steps = heading.split(":")
        if len(steps) > 2:
            return None
        if len(steps) == 2:
            parts.add(normalise_header(steps[0]))
    if "identifier" not in table.keys or len(parts) != 1:
        return None
    return _PART_TITLES.get(parts.pop())


def _read(
    source: Path | bytes, format: str | None, name: str | None = None
) -> tuple[Table, list[tuple[Table, str]]]:
    """The sheet of grants, and the part sheets with their part's key. In a workbook the
    sheet of grants is the one whose header row has 360Giving's "Identifier" and "Amount
    Awarded" (a visible one before a hidden one, then one named "grants", then the first),
    else the "grants" sheet, else the first; a CSV's one sheet. A header row may be below a
    title."""
    is_workbook = (
        (format or "").lower() in ("xlsx", "xlsm")
        or (isinstance(source, bytes | bytearray) and bytes(source[:2]) == b"PK")
        or (isinstance(source, Path) and source.suffix.lower() in (".xlsx", ".xlsm"))
    )
    # an Excel error value is its cell's problem (read_360giving_table), not the file's one
    reading = {"format": format, "name": name, "expected": _grants_or_part, "keep_errors": True}
    if is_workbook:
        label = source.name if isinstance(source, Path) else "upload.xlsx"
        heads = sheet_heads(source, label, _grants_or_part)
        chosen = choose_sheet(heads, lambda head: are_grant_headings(head.keys), "grants")
        if chosen is not None:
            parts = []
            for head in heads:
                if head is chosen or are_grant_headings(head.keys):
                    continue
                if not _grants_or_part(head.keys):
                    continue
                try:
                    part = read_table(source, sheet=head.title, **reading)  # type: ignore[arg-type]
                except ReadError as error:  # a cell's fault: named by its sheet too
                    if error.column is not None:
                        error.column = f"{error.column} (sheet '{head.title}')"
                    raise
                if (key := _part_of(part)) is not None:
                    parts.append((part, key))
            table = read_table(source, sheet=chosen.title, **reading)  # type: ignore[arg-type]
            return table, parts
        try:
            return read_table(source, sheet="grants", **reading), []  # type: ignore[arg-type]
        except ReadError as error:
            if error.row is not None:  # a cell of the grants sheet, not a sheet missing
                raise
    return read_table(source, **reading), []  # type: ignore[arg-type]
