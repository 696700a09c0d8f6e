"""The database schema (SQLAlchemy 2 declarative models).

Geography tables hold what ``directory geodata load`` writes; every committed data
change is recorded in ``data_release``, whose newest row is the data version that ETags
and Last-Modified headers derive from. Models never commit themselves.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: SQLite's FTS5 index of the services' words (migration 0022): a virtual table and the
#: tables it keeps, made by the migration, not modelled (``schema_object``)
SERVICE_WORDS = "service_words"
_SERVICE_WORDS_TABLES = frozenset(
    {
        SERVICE_WORDS,
        *(f"{SERVICE_WORDS}_{shadow}" for shadow in ("data", "idx", "docsize", "config")),
    }
)


def schema_object(name: str | None, type_: str, parent_names: Any) -> bool:
    """Whether Alembic compares ``name`` with the models (its ``include_name`` hook): not
    the FTS5 index of migration 0022, nor its shadow tables."""
    return not (type_ == "table" and name in _SERVICE_WORDS_TABLES)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DataRelease(Base):
    """One committed change of loaded data (a geography load, later an import run)."""

    __tablename__ = "data_release"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(40), index=True)
    label: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Area(Base):
    """A region, police area (the Metropolitan Police District), Met BCU, borough or ward;
    geometry as WKB in EPSG:27700."""

    __tablename__ = "area"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("area.code"), index=True, nullable=True
    )
    vintage: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    min_x: Mapped[float] = mapped_column(Float)
    min_y: Mapped[float] = mapped_column(Float)
    max_x: Mapped[float] = mapped_column(Float)
    max_y: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)
    geometry: Mapped[bytes] = mapped_column(LargeBinary)


class AreaNeighbour(Base):
    """Areas of the same type that touch, or face each other across open water."""

    __tablename__ = "area_neighbour"

    code: Mapped[str] = mapped_column(String(40), ForeignKey("area.code"), primary_key=True)
    neighbour_code: Mapped[str] = mapped_column(
        String(40), ForeignKey("area.code"), primary_key=True
    )
    relation: Mapped[str] = mapped_column(String(16))


class Postcode(Base):
    """A live postcode (OS Code-Point Open) or a terminated one (ONS NSPL)."""

    __tablename__ = "postcode"

    canonical: Mapped[str] = mapped_column(String(8), primary_key=True)
    display: Mapped[str] = mapped_column(String(9))
    outcode: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(12))
    easting: Mapped[float] = mapped_column(Float)
    northing: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    borough_code: Mapped[str] = mapped_column(String(9))
    ward_code: Mapped[str] = mapped_column(String(9))
    positional_quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    introduced: Mapped[str | None] = mapped_column(String(7), nullable=True)
    terminated: Mapped[str | None] = mapped_column(String(7), nullable=True)
    #: grid cell key (see ``directory.store.repositories.geography.grid_cell``) for nearest lookups
    cell: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_postcode_outcode", "outcode"),
        Index("ix_postcode_cell", "cell"),
    )


# -- the directory ---------------------------------------------------------------------
# Records are identified by a stable external ``ref`` from their source and upserted by it.
# Nothing is deleted: a record a full-refresh source stops listing gets ``withdrawn_at``.
# Area codes are stored as text without a foreign key: areas are replaced wholesale when a
# new boundary vintage is loaded, and the directory must survive that.


class Theme(Base):
    """The controlled taxonomy (directory/data/themes.csv), synced on every import."""

    __tablename__ = "theme"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)


class Programme(Base):
    """A funding programme (directory/data/programmes.csv, plus any a source names)."""

    __tablename__ = "programme"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    funder_ref: Mapped[str | None] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    formula: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: counted by default in the funding answers (directory/data/community_safety.py)
    community_safety: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Organisation(Base):
    __tablename__ = "organisation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    type: Mapped[str | None] = mapped_column(String(20))
    charity_number: Mapped[str | None] = mapped_column(String(20))
    company_number: Mapped[str | None] = mapped_column(String(20))
    size_band: Mapped[str | None] = mapped_column(String(20))
    website: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    #: the name's loose words, each after a space (``directory.store.words.indexed``: case,
    #: accents and punctuation aside), which a search of names looks in (migration 0019)
    search_name: Mapped[str] = mapped_column(Text, default="", server_default="")

    #: the organisations' lists in name order, case aside (migration 0017; as the service's,
    #: recreated by hand after a ``batch_alter_table`` of this table on SQLite)
    #: (the name's words, ``search_name``, are in no index: holding them too made a long
    #: name in another script too big for a PostgreSQL index row, and NFKD can make a
    #: name's words many times longer than its 300 characters)
    __table_args__ = (Index("ix_organisation_name_order", func.lower(name), name, id),)


class OrganisationAlias(Base):
    """An organisation merged into another (``directory organisations merge``): its ref
    and id keep naming the organisation it was merged into (a redirect from its address,
    the filters that name it, and the next import of a file that still lists it, by ref or
    by name). Made by migration 0029."""

    __tablename__ = "organisation_alias"
    #: the merged organisation's ref (no live organisation has it: an import files it under
    #: ``organisation_id``)
    ref: Mapped[str] = mapped_column(String(120), primary_key=True)
    #: the merged organisation's id (a live organisation with the same id wins: SQLite
    #: may give a deleted row's id again)
    old_id: Mapped[int] = mapped_column(Integer, index=True)
    #: its name, which the importer's name rule matches too
    name: Mapped[str] = mapped_column(String(300))
    #: the organisation it is now (moved on when that one is merged in turn)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    merged_at: Mapped[datetime] = mapped_column(DateTime)
    #: who merged it over the API (the key's name); null for the ``directory`` command
    actor: Mapped[str | None] = mapped_column(String(120))
    #: the run the merge is recorded as (its change events name it)
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"))


class Service(Base):
    __tablename__ = "service"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    eligibility: Mapped[str | None] = mapped_column(Text)
    referral: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(60))
    website: Mapped[str | None] = mapped_column(String(500))
    last_verified: Mapped[date | None] = mapped_column(Date)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(80), index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    #: name, organisation, description and theme names, for text search (on PostgreSQL two
    #: GIN-indexed vectors: its English stems, which rank, and those with its words as they
    #: are, which match: migrations 0005, 0021 and 0024; on SQLite indexed by FTS5,
    #: ``service_words``: migration 0022)
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: the name's loose words, each after a space, as the organisation's: a word of ``q``
    #: in them ranks the service first, on PostgreSQL (its vector's weight A) as on SQLite,
    #: whatever the name's accents or script (migration 0021)
    search_name: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: what an Open Referral (HSDS 3.0) import read that has no column here: schedules,
    #: languages, cost options, required documents, funding and contacts as published, and
    #: text such as fees and alerts (directory/ingest/hsds.py; served back by the HSDS API)
    hsds_extras: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    #: lists ordered by name, case aside (``store.repositories.by_name``): read in this
    #: order, a page stops at its last row rather than sorting every service (migration 0017;
    #: SQLAlchemy cannot reflect an index on an expression from SQLite, so a later migration
    #: that recreates this table there with ``batch_alter_table`` must create it again)
    __table_args__ = (Index("ix_service_name_order", func.lower(name), name, id),)


class ServiceTheme(Base):
    __tablename__ = "service_theme"
    __table_args__ = (PrimaryKeyConstraint("service_id", "theme_id"),)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"))
    theme_id: Mapped[str] = mapped_column(ForeignKey("theme.id"), index=True)


class ServiceArea(Base):
    """Coverage: a service serves these areas (London, BCUs, boroughs or wards)."""

    __tablename__ = "service_area"
    __table_args__ = (PrimaryKeyConstraint("service_id", "area_code"),)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"))
    area_code: Mapped[str] = mapped_column(String(40), index=True)


class Location(Base):
    """A delivery site, with its areas resolved through the geography when it was imported."""

    __tablename__ = "location"
    __table_args__ = (
        UniqueConstraint("service_id", "ref"),
        # covering the spatial filters (grid cell first, then the exact tests of bbox and
        # near), so a big bbox is read from the index alone (migration 0007)
        Index("ix_location_cell_point", "cell", "lon", "lat", "easting", "northing", "service_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service.id", ondelete="CASCADE"), index=True
    )
    ref: Mapped[str] = mapped_column(String(160))
    name: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(8))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    easting: Mapped[float | None] = mapped_column(Float)
    northing: Mapped[float | None] = mapped_column(Float)
    borough_code: Mapped[str | None] = mapped_column(String(9), index=True)
    ward_code: Mapped[str | None] = mapped_column(String(9), index=True)
    cell: Mapped[int | None] = mapped_column(Integer)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)


class Grant(Base):
    """Funding: who gave how much to whom, for what, where, for how long, and through whom."""

    __tablename__ = "grant"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(160), unique=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    programme_id: Mapped[str | None] = mapped_column(ForeignKey("programme.id"), index=True)
    amount_pence: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    awarded: Mapped[date | None] = mapped_column(Date)
    start: Mapped[date | None] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date, index=True)
    duration_months: Mapped[int | None] = mapped_column(Integer)
    financial_year: Mapped[str | None] = mapped_column(String(7))
    regrant_type: Mapped[str | None] = mapped_column(String(10))
    parent_ref: Mapped[str | None] = mapped_column(String(160), index=True)
    source_url: Mapped[str | None] = mapped_column(String(1000))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(80), index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    #: the title's loose words, each after a space, as the organisation's ``search_name``
    #: (migration 0019)
    search_title: Mapped[str] = mapped_column(Text, default="", server_default="")


class GrantService(Base):
    __tablename__ = "grant_service"
    __table_args__ = (PrimaryKeyConstraint("grant_id", "service_id"),)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grant.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service.id", ondelete="CASCADE"), index=True
    )


class GrantArea(Base):
    """Beneficiary areas of a grant (GSS codes / BCU ids)."""

    __tablename__ = "grant_area"
    __table_args__ = (PrimaryKeyConstraint("grant_id", "area_code"),)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grant.id", ondelete="CASCADE"))
    area_code: Mapped[str] = mapped_column(String(40), index=True)


class Outcome(Base):
    __tablename__ = "outcome"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service.id", ondelete="CASCADE"), index=True
    )
    metric: Mapped[str] = mapped_column(String(300))
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(60))
    report_type: Mapped[str | None] = mapped_column(String(20))
    report_url: Mapped[str | None] = mapped_column(String(1000))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    #: when the figure was measured (None: taken as period_end); a measurement after the
    #: service's funding ended is a follow-up (usecases/funding/followup.py)
    measured_on: Mapped[date | None] = mapped_column(Date)


class PatchContact(Base):
    """Who to talk to about an area: borough SPOC, SNB chair, BCU lead."""

    __tablename__ = "patch_contact"
    __table_args__ = (UniqueConstraint("area_code", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_code: Mapped[str] = mapped_column(String(40), index=True)
    role: Mapped[str] = mapped_column(String(120))
    name: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(60))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    #: whether the email address may be published (a named person's address is personal
    #: data): reads show ``email`` only when this is true (migration 0011)
    email_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Opportunity(Base):
    """A funding opportunity (a bidding round): who offers how much for what, where, and the
    dates it opens and closes. Times are kept in UTC (naive, as every time here) and shown in
    Europe/London; its status (upcoming, open, closing soon, closed) is worked out from them
    when asked (directory/usecases/opportunities.py), never stored."""

    __tablename__ = "opportunity"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    #: the funder: the organisation when it is held, and its name as published in any case
    funder_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    funder_name: Mapped[str] = mapped_column(String(300))
    programme_id: Mapped[str | None] = mapped_column(ForeignKey("programme.id"), index=True)
    summary: Mapped[str | None] = mapped_column(Text)
    eligibility: Mapped[str | None] = mapped_column(Text)
    small_org_friendly: Mapped[bool] = mapped_column(Boolean, default=False)
    #: what makes it small-organisation friendly ("income under £250k, no match funding")
    small_org_rule: Mapped[str | None] = mapped_column(Text)
    amount_min_pence: Mapped[int | None] = mapped_column(BigInteger)
    amount_max_pence: Mapped[int | None] = mapped_column(BigInteger)
    total_pot_pence: Mapped[int | None] = mapped_column(BigInteger)
    awards_expected: Mapped[int | None] = mapped_column(Integer)
    #: UTC; null: open since it was published
    opens_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: UTC: the deadline
    closes_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    decision_date: Mapped[date | None] = mapped_column(Date)
    grant_months_min: Mapped[int | None] = mapped_column(Integer)
    grant_months_max: Mapped[int | None] = mapped_column(Integer)
    how_to_apply_url: Mapped[str | None] = mapped_column(String(1000))
    contact_name: Mapped[str | None] = mapped_column(String(300))
    contact_email: Mapped[str | None] = mapped_column(String(300))
    #: the contact is published only when this says so (people's details are personal data)
    contact_public: Mapped[bool] = mapped_column(Boolean, default=False)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(80), index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class OpportunityTheme(Base):
    __tablename__ = "opportunity_theme"
    __table_args__ = (PrimaryKeyConstraint("opportunity_id", "theme_id"),)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunity.id", ondelete="CASCADE"))
    theme_id: Mapped[str] = mapped_column(ForeignKey("theme.id"), index=True)


class OpportunityArea(Base):
    """Where an opportunity funds work: London, BCUs, boroughs or wards (codes, as coverage)."""

    __tablename__ = "opportunity_area"
    __table_args__ = (PrimaryKeyConstraint("opportunity_id", "area_code"),)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunity.id", ondelete="CASCADE"))
    area_code: Mapped[str] = mapped_column(String(40), index=True)


class ImportRun(Base):
    """One run of ``directory import`` (or one source of ``directory refresh``)."""

    __tablename__ = "import_run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(80), index=True)
    format: Mapped[str] = mapped_column(String(20))
    location: Mapped[str] = mapped_column(String(1000))
    mode: Mapped[str] = mapped_column(String(12))  # full | incremental
    checksum: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # succeeded | unchanged | failed | refused
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: who asked for it over the API: the API key's name (never its secret); null for runs
    #: of the ``directory`` command
    actor: Mapped[str | None] = mapped_column(String(120))
    #: the records it withdrew, restored and moved from another source, named by kind and
    #: action (``ImportReport.records``: the first 1,000 of each); null for runs recorded
    #: before migration 0028
    records: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ChangeEvent(Base):
    """A create, update or withdrawal of a directory record, with old → new values."""

    __tablename__ = "change_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    entity: Mapped[str] = mapped_column(
        String(20)
    )  # service | grant | organisation | opportunity …
    entity_id: Mapped[int] = mapped_column(Integer)
    entity_ref: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(12))  # created | updated | withdrawn | restored
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(String(500))
    #: who made it over the API: the API key's name (never its secret); null for changes
    #: made by the ``directory`` command (migration 0011)
    actor: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (Index("ix_change_event_entity", "entity", "entity_id"),)


class ChangeArea(Base):
    """The area codes a change affects (old and new coverage, sites, beneficiary areas)."""

    __tablename__ = "change_area"
    __table_args__ = (PrimaryKeyConstraint("event_id", "area_code"),)
    event_id: Mapped[int] = mapped_column(ForeignKey("change_event.id", ondelete="CASCADE"))
    area_code: Mapped[str] = mapped_column(String(40), index=True)


class ApiKey(Base):
    """A key for the API's write routes (``directory keys``). The key's text
    (``lfsd_<prefix>_<secret>``) is shown once, when it is made; only ``prefix`` (to find
    the row) and a salted scrypt hash of the secret, with its parameters, are kept
    (directory/usecases/keys.py)."""

    __tablename__ = "api_key"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(12))  # admin | officer | editor
    #: the organisation an editor's key may write for (required for editors, else null)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    #: ``scrypt$n=…,r=…,p=…$<salt>$<hash>`` (base64): the algorithm and its parameters with it
    secret_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)


class RateLimit(Base):
    """One rate-limit counter (``DIRECTORY_RATE_LIMIT_STORAGE=database``): how many requests
    ``key`` (a limit and who it counts: a key's id or a client address) has made in the
    window that ends at ``expires_at`` (seconds since the epoch; indexed: the purge of ended
    counters asks by it)."""

    __tablename__ = "rate_limit"
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class Lock(Base):
    """Advisory locks held across processes (``directory refresh``)."""

    __tablename__ = "lock"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(DateTime)


# -- need: recorded crime and population, for funding against need ----------------------------
# Loaded by ``directory import FILE --format mps-crime|population`` (directory/usecases/funding.py), each
# import recorded as an ImportRun with a DataRelease. Area codes carry no foreign key, as above.


class CrimeCount(Base):
    """Recorded offences in one borough, month and offence category (Met Police borough-level
    crime, published monthly on the London Datastore). A later file replaces the months it
    covers (the Met revises recent months)."""

    __tablename__ = "crime_count"
    __table_args__ = (
        PrimaryKeyConstraint("area_code", "month", "major_category", "minor_category"),
    )
    area_code: Mapped[str] = mapped_column(String(40))
    #: the first day of the month counted
    month: Mapped[date] = mapped_column(Date, index=True)
    major_category: Mapped[str] = mapped_column(String(120))
    minor_category: Mapped[str] = mapped_column(String(160))
    count: Mapped[int] = mapped_column(Integer)
    #: the import run that last wrote this row
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"), index=True)


class AreaPopulation(Base):
    """An area's resident population estimate at a reference date (ONS mid-year estimates)."""

    __tablename__ = "area_population"
    __table_args__ = (PrimaryKeyConstraint("area_code", "reference_date"),)
    area_code: Mapped[str] = mapped_column(String(40))
    reference_date: Mapped[date] = mapped_column(Date)
    all_ages: Mapped[int] = mapped_column(Integer)
    aged_0_9: Mapped[int | None] = mapped_column(Integer)
    aged_10_17: Mapped[int | None] = mapped_column(Integer)
    aged_18_24: Mapped[int | None] = mapped_column(Integer)
    aged_10_24: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text)
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"), index=True)


# -- participation: public feedback and practice notes (issue 17 §3) ------------------------


class Feedback(Base):
    """Something a member of the public told the directory about a record ("this is out of
    date", "this service has closed", a question), kept for moderation and never published.

    The target is ``(target_kind, target_id)`` (a service; an opportunity later), without a
    foreign key; ``organisation_id`` is the organisation running the target when it was sent,
    so an editor's scope is one indexed column. ``email`` is personal data: only keyed
    moderation reads ever show it."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_target", "target_kind", "target_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(20))  # service (opportunity later)
    target_id: Mapped[int] = mapped_column(Integer)
    organisation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    category: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(12), index=True)  # new | answered | closed
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(120))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: an accepted correction: the fields changed, old → new, and the run that wrote it
    correction: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    correction_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PracticeNote(Base):
    """What worked, published by a funded service's editor or an officer ("share what
    works"): about one service, with its themes and the outcomes of that service it cites."""

    __tablename__ = "practice_note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("service.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    evidence_url: Mapped[str | None] = mapped_column(String(1000))
    author: Mapped[str] = mapped_column(String(120))  # the API key's name
    published_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PracticeTheme(Base):
    __tablename__ = "practice_theme"
    __table_args__ = (PrimaryKeyConstraint("note_id", "theme_id"),)
    note_id: Mapped[int] = mapped_column(ForeignKey("practice_note.id", ondelete="CASCADE"))
    theme_id: Mapped[str] = mapped_column(ForeignKey("theme.id"), index=True)


class PracticeOutcome(Base):
    __tablename__ = "practice_outcome"
    __table_args__ = (PrimaryKeyConstraint("note_id", "outcome_id"),)
    note_id: Mapped[int] = mapped_column(ForeignKey("practice_note.id", ondelete="CASCADE"))
    outcome_id: Mapped[int] = mapped_column(
        ForeignKey("outcome.id", ondelete="CASCADE"), index=True
    )
