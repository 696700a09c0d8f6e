"""What every import format is turned into: plain records, and the problems found on the way.

The format readers (template, 360Giving, Open Referral) only produce these; ``apply`` compares
them with the database and writes them all or nothing. Everything here is plain data: no
Flask, no SQLAlchemy.

Identity: every record carries a stable external reference (``ref``) chosen by its source
(a 360Giving grant id, an org-id such as ``GB-CHC-1123456``, the template's ``service_ref``),
and imports upsert by it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import operator
import pickle
import tempfile
import weakref
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from directory.ingest.codelists import codes
from directory.store.repositories.scratch import scratch_space

R = TypeVar("R")
C = TypeVar("C", bound=type)


def pickled_by_fields(cls: C) -> C:
    """Pickle (and copy) a slots dataclass as its class and its fields' values in order:
    the dataclass's own state methods made a third of the time of spooling and ledgering
    each of an import's 100,000 records (``Spool``, ``store.repositories.scratch.Ledger``)."""
    values = operator.attrgetter(*(f.name for f in dataclasses.fields(cls)))

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[assignment]
    return cls


#: organisation types (HSDS ``organization`` has no fixed list; these are the Committee's)
ORGANISATION_TYPES = ("voluntary", "council", "nhs", "police", "education", "business", "other")
#: service statuses, as Open Referral HSDS 3.0 defines them
SERVICE_STATUSES = ("active", "inactive", "defunct", "temporarily closed")
#: 360Giving's Regrant Type codelist (regrantType, FRG010–FRG070, read from the standard's
#: file): the code goes on the grant made to a grantmaker *for onward distribution* (MOPAC →
#: an SNB's projects fund, FRG010), not on the onward grants it pays (SNB → Oxygen), which
#: name their source by ``parent_ref``
REGRANT_TYPES = codes("regrantType")
#: what a change event records of a person's details that may not be published
PRIVATE = "(not published)"


def published(changes: dict[str, list[Any]], fields: Iterable[str], shown: tuple[Any, Any]) -> None:
    """Put :data:`PRIVATE` in ``changes`` (field → [old, new]) for each of ``fields`` where
    its side may not be published (``shown``: whether the old and the new values may):
    personal details never reach the change feed, the history or the Atom feed."""
    for name in fields:
        if name in changes:
            changes[name] = [
                v if public else (v and PRIVATE)
                for v, public in zip(changes[name], shown, strict=True)
            ]


@pickled_by_fields
@dataclass(slots=True)
class OrganisationRecord:
    ref: str
    name: str
    type: str | None = None  # one of ORGANISATION_TYPES
    charity_number: str | None = None
    company_number: str | None = None
    size_band: str | None = None  # micro, small, medium, large, major (NCVO bands)
    website: str | None = None
    email: str | None = None
    description: str | None = None
    demo: bool = False  # anything invented to fill a gap is marked


@pickled_by_fields
@dataclass(slots=True)
class LocationRecord:
    """A delivery site. ``postcode`` is canonical (no space); coordinates and areas are
    filled in from the geography when the postcode is known."""

    ref: str
    name: str | None = None
    address: str | None = None
    postcode: str | None = None
    lat: float | None = None
    lon: float | None = None
    demo: bool = False


#: what a source may not say of a service's sites (:attr:`ServiceRecord.kept`): none of
#: them (no site column at all), those beyond the one it gives (a sheet gives one site a
#: service), and the fields of that one site whose columns it lacks
SITES = "sites"
OTHER_SITES = "other sites"
SITE_REF = "site ref"
SITE_NAME = "site name"
SITE_ADDRESS = "site address"
SITE_POSTCODE = "site postcode"  # and the coordinates read from it


@pickled_by_fields
@dataclass(slots=True)
class ServiceRecord:
    ref: str
    name: str
    organisation_ref: str
    description: str | None = None
    status: str = "active"  # one of SERVICE_STATUSES
    themes: list[str] = field(default_factory=list)  # theme ids from data/themes.csv
    coverage: list[str] = field(default_factory=list)  # area codes: E12000007, bcu-…, E09…, E05…
    locations: list[LocationRecord] = field(default_factory=list)
    min_age: int | None = None
    max_age: int | None = None
    eligibility: str | None = None
    referral: str | None = None  # who can refer: self, professional, police, school …
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    last_verified: date | None = None
    demo: bool = False
    #: members of an Open Referral (HSDS) service with no field here, kept as read
    hsds_extras: dict[str, Any] | None = None
    #: what the source does not say, so the import keeps what is held: field names (a
    #: sheet without their columns), "themes", and :data:`SITES`, :data:`OTHER_SITES` …
    #: (how it was read, not what it says: records equal but for it are equal)
    kept: frozenset[str] = field(default=frozenset(), compare=False)


@pickled_by_fields
@dataclass(slots=True)
class GrantRecord:
    ref: str
    funder_ref: str  # an organisation ref (MOPAC is GB-GOR-PC390 in 360Giving)
    recipient_ref: str  # an organisation ref
    title: str | None = None
    description: str | None = None
    programme: str | None = None  # a programme id from data/programmes.csv, or free text
    #: the services it funds; None: the source cannot say (360Giving), the links held stay
    service_refs: list[str] | None = field(default_factory=list)
    amount: Decimal | None = None  # pounds
    currency: str = "GBP"
    awarded: date | None = None
    start: date | None = None
    end: date | None = None
    duration_months: int | None = None
    financial_year: str | None = None  # "2021/22"
    areas: list[str] = field(default_factory=list)  # beneficiary area codes
    regrant_type: str | None = None  # a REGRANT_TYPES code: this grant is for onward grants
    parent_ref: str | None = None  # the grant this money came through, if any
    source_url: str | None = None
    demo: bool = False


@dataclass(slots=True)
class OutcomeRecord:
    service_ref: str
    metric: str
    period_start: date | None = None
    period_end: date | None = None
    value: Decimal | None = None
    target: Decimal | None = None
    unit: str | None = None
    report_type: str | None = None  # interim, final
    report_url: str | None = None
    demo: bool = False
    #: when it was measured (None: the answers take period_end)
    measured_on: date | None = None
    #: the stored outcome this record is (an API write, which may change its metric or
    #: period); None: the one with the same service, metric and period, if any
    id: int | None = None


@dataclass(slots=True)
class ContactRecord:
    """Who to talk to about an area: borough SPOC, SNB chair, BCU lead."""

    area_code: str
    role: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    demo: bool = False
    #: whether ``email`` may be published (a named person's address is personal data)
    email_public: bool = False
    #: the stored contact this record is (an API write, which may change its area or
    #: role); None: the one with the same area and role, if any
    id: int | None = None


@dataclass(slots=True)
class OpportunityRecord:
    """A funding opportunity (bidding round). Times are timezone-aware (the template reads
    them as Europe/London); amounts in pounds."""

    ref: str
    title: str
    funder_name: str
    closes_at: datetime
    funder_ref: str | None = None  # the funder's organisation ref, when it is one held
    programme: str | None = None  # a programme id
    summary: str | None = None
    eligibility: str | None = None
    small_org_friendly: bool = False
    small_org_rule: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    total_pot: Decimal | None = None
    awards_expected: int | None = None
    opens_at: datetime | None = None
    decision_date: date | None = None
    grant_months_min: int | None = None
    grant_months_max: int | None = None
    how_to_apply_url: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_public: bool = False
    themes: list[str] = field(default_factory=list)  # theme ids
    areas: list[str] = field(default_factory=list)  # area codes
    demo: bool = False
    row: int | None = None  # the sheet's row it was read from (None: not from a sheet)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input. ``row`` is the spreadsheet row number (header = 1) or
    the index of the record in a JSON file (from 1); ``column`` the column heading or JSON
    field path."""

    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    severity: str = "error"  # error (blocks the import) or warning (reported only)

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
            "severity": self.severity,
        }


@dataclass
class ProblemLog:
    """The problems found reading one source file, each with row, column and value."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def error(
        self, message: str, *, row: int | None = None, column: str | None = None, value: Any = None
    ) -> None:
        self.problems.append(Problem(message, row, column, _shown(value), "error"))

    def warning(
        self, message: str, *, row: int | None = None, column: str | None = None, value: Any = None
    ) -> None:
        self.problems.append(Problem(message, row, column, _shown(value), "warning"))


#: the compressed records a spool keeps in memory before it moves them to a temporary file
SPOOL_IN_MEMORY = 4 * 2**20
#: records pickled together in a spool
SPOOL_CHUNK = 1_000


class Spool(Generic[R]):
    """Records set aside as they are read (pickled and compressed, ``SPOOL_CHUNK`` at a
    time, in a temporary file once more than ``SPOOL_IN_MEMORY``) and read back in their
    order, a chunk at a time, as often as asked: a 100,000-row sheet's services are 85 MB
    as objects, 8 MB here, on disk. A record read back is a copy: changing it changes
    nothing here."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        # closed at the latest when collected
        self.close = weakref.finalize(self, _close_quietly, self._file)
        self._chunks: list[tuple[int, int]] = []  # (offset, size) of each chunk in the file
        self._pending: list[R] = []
        self._count = 0

    def append(self, record: R) -> None:
        self._pending.append(record)
        self._count += 1
        if len(self._pending) >= SPOOL_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        blob = zlib.compress(pickle.dumps(self._pending, protocol=pickle.HIGHEST_PROTOCOL), 1)
        with scratch_space():  # a full temporary disk: a ScratchFullError
            offset = self._file.seek(0, io.SEEK_END)
            self._file.write(blob)
            self._file.flush()
        self._chunks.append((offset, len(blob)))
        self._pending = []

    def __iter__(self) -> Iterator[R]:
        self._flush()
        for offset, size in list(self._chunks):
            with scratch_space():
                self._file.seek(offset)
                blob = self._file.read(size)
            chunk: list[R] = pickle.loads(zlib.decompress(blob))  # noqa: S301 (written by this object)
            yield from chunk

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"Spool({self._count} records)"


def _close_quietly(file: Any) -> None:
    with contextlib.suppress(OSError):  # a full disk: what it could not write is not wanted
        file.close()


@dataclass
class Batch(ProblemLog):
    """Everything read from one source file."""

    organisations: list[OrganisationRecord] = field(default_factory=list)
    #: a list, or a sheet's services set aside in a spool as they were read
    services: list[ServiceRecord] | Spool[ServiceRecord] = field(default_factory=list)
    #: a list, or a sheet's grants set aside in a spool once every row was read
    grants: list[GrantRecord] | Spool[GrantRecord] = field(default_factory=list)
    outcomes: list[OutcomeRecord] = field(default_factory=list)
    contacts: list[ContactRecord] = field(default_factory=list)
    opportunities: list[OpportunityRecord] = field(default_factory=list)
    #: whether the source says what its opportunities are, even none (a workbook's
    #: Opportunities sheet, with its headings): only then does a full import withdraw those
    #: it no longer lists
    lists_opportunities: bool = False
    #: what a write over the API takes out: services to withdraw (refs), outcomes and
    #: patch contacts to delete (ids); no file format says these
    withdrawn_services: list[str] = field(default_factory=list)
    removed_outcomes: list[int] = field(default_factory=list)
    removed_contacts: list[int] = field(default_factory=list)
    #: where each grant paid through another says so (its row and column), for the
    #: import's error when Paid through makes a loop with grants already held
    paid_through_rows: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: where a sheet first names each organisation, by its ref: (row, column, the cell's
    #: value, how many rows name it), for the import's warning when it is taken to be an
    #: organisation held under another ref (it named no row, and a column "organisation")
    organisation_rows: dict[str, tuple[int, str, str, int]] = field(default_factory=dict)


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "…"


class Context(Protocol):
    """What a format reader may ask of the geography and the taxonomy. Each method raises
    ``ValueError`` with a plain-English message when the text cannot be resolved."""

    def areas(self, text: str) -> list[str]:
        """Area codes for free text: "Kingston", "RB Kingston upon Thames", "Kensington &
        Chelsea", "E09000021", "Central West BCU", "pan-London", "London-wide", or a list
        of those separated by ``;``, ``,``, ``|`` or new lines. London-wide is
        ``E12000007``."""
        ...

    def area_code(self, code: str) -> str | None:
        """The stored code for a GSS code / BCU id if it is a London area, else None (for
        sources such as 360Giving that carry codes from anywhere in the UK)."""
        ...

    def themes(self, text: str) -> list[str]:
        """Theme ids for free text ("knife crime; VAWG", "Domestic abuse")."""
        ...

    def programme(self, text: str) -> str:
        """The programme id for a name or alias in data/programmes.csv ("LCPF", "London Crime
        Prevention Fund - co-commissioning", "VRU", "Young Londoners Fund"); text that names
        no known programme becomes a slug id of its own (never an error)."""
        ...

    def postcode(self, text: str) -> LocationRecord:
        """A LocationRecord with canonical postcode and lat/lon for a London postcode (any
        case and spacing). ``ref`` is left empty for the caller to fill."""
        ...

    def read_postcodes(self, texts: Iterable[str]) -> None:
        """Read these postcodes ahead in a few statements (``postcode`` then answers them
        without a statement each); texts that are no postcode are ignored here."""
        ...

    def held_ref(self, kind: str, hsds_id: str) -> str | None:
        """For an Open Referral id this directory made from a ref of its own (``kind``
        ``service`` or ``organization``; a file it exported, read back): that ref. None
        for any other id."""
        ...

    def grant_ref(self, grant_id: str) -> str:
        """The ref of the grant a 360Giving file names ``grant_id``: without this directory's
        own 360Giving prefix (``DIRECTORY_GIVING360_PREFIX``) when its export put it there
        (the file is its export, read back), else ``grant_id`` whole (another publisher's
        grant, or one held under that whole id)."""
        ...

    def organisation_ref(self, org_id: str) -> str:
        """The ref of the organisation a 360Giving file names ``org_id``: ``org:`` and what
        follows this directory's own 360Giving prefix when its export put it there (an
        organisation with no registered org-id, read back), else ``org_id`` whole (a
        registered org-id, another publisher's ``360G-`` id, or one held under that whole
        id)."""
        ...

    def held_site(self, hsds_id: str) -> tuple[str, str] | None:
        """For a location's Open Referral id this directory made from a site of its own:
        (its service's ref, its ref). None for any other id."""
        ...

    def made_here(self, kind: str, item: dict[str, Any], service_id: str) -> bool:
        """Whether a service's ``funding`` or ``contacts`` item is one this directory's
        export made for the service whose id it made, ``service_id`` (from a grant, a patch
        contact)."""
        ...
