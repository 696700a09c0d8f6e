"""Resolving messy text against the loaded geography and the taxonomy, for the importers.

Implements the ``Context`` protocol of ``directory.ingest.records``: every method raises
``ValueError`` with a plain-English message the import report shows next to the cell.
"""

from __future__ import annotations

import csv
import difflib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from directory.data import DATA_DIR, org_id_key
from directory.ingest.giving360 import own_org_ref, own_ref
from directory.ingest.records import LocationRecord
from directory.ingest.values import loose_key, slug, split_list
from directory.store.repositories.directory import CatalogueQueries
from directory.store.repositories.geography import GeographyRepository
from directory.store.repositories.hsds import HsdsQueries
from directory.usecases.geography import GeographySnapshot, qualified_ward
from directory.usecases.hsds_ids import made_from, made_here
from geodata import InvalidPostcodeError, parse_postcode
from geodata.crs import to_bng
from geodata.names import normalise_name

LONDON = "E12000007"
MPD = "E23000001"
#: phrases meaning "all of London" (compared after normalise_name); the Metropolitan Police
#: District (the 32 boroughs, not the City) is named by its code, its name or
#: POLICE_DISTRICT_WIDE
LONDON_WIDE = frozenset(
    normalise_name(text)
    for text in (
        "pan-London",
        "pan London",
        "London-wide",
        "London wide",
        "Londonwide",
        "all London",
        "all of London",
        "across London",
        "all boroughs",
        "all London boroughs",
        "London",
        "Greater London",
        "GLA area",
    )
)
#: phrases meaning the Metropolitan Police District: London but the City of London
POLICE_DISTRICT_WIDE = frozenset(
    normalise_name(text)
    for text in (
        "32 London boroughs",
        "the 32 London boroughs",
        "all 32 London boroughs",
        "32 boroughs",
        "all 32 boroughs",
        "London-wide (32 boroughs)",
        "London excluding the City",
        "London except the City",
        # the Met's own area: the City of London Police polices the City
        "Met-wide",
        "MPS-wide",
        "Met Police-wide",
    )
)
#: the order area types are tried in for a free-text name: wards only on an exact name
_TYPES = ("region", "police_area", "bcu", "borough")
_BCU_WORDS = re.compile(r"\b(bcu|basic command unit|command unit)\b", re.IGNORECASE)
_AREA_WORD = re.compile(r"\barea\b", re.IGNORECASE)  # "East Area BCU" is the East BCU
#: what joins several areas written as one ("Kingston & Richmond", "Brent and Harrow")
_JOINED = re.compile(r"\s*(?:&|\+|/|\band\b)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class TaxonomyEntry:
    id: str
    name: str
    description: str
    keys: tuple[str, ...]
    funder_ref: str | None = None


def _read_taxonomy(file: str) -> list[TaxonomyEntry]:
    with (DATA_DIR / file).open(encoding="utf-8", newline="") as handle:
        return [
            TaxonomyEntry(
                id=row["id"],
                name=row["name"],
                description=row["description"],
                keys=tuple(
                    {loose_key(row["id"]), loose_key(row["name"])}
                    | {loose_key(a) for a in row["aliases"].split(";") if a.strip()}
                ),
                funder_ref=row.get("funder_ref") or None,
            )
            for row in csv.DictReader(handle)
        ]


@cache
def themes() -> tuple[TaxonomyEntry, ...]:
    """The theme taxonomy from directory/data/themes.csv."""
    return tuple(_read_taxonomy("themes.csv"))


@cache
def programmes() -> tuple[TaxonomyEntry, ...]:
    """The known funding programmes from directory/data/programmes.csv."""
    return tuple(_read_taxonomy("programmes.csv"))


@dataclass(frozen=True)
class KnownOrganisations:
    """directory/data/organisations.csv: organisations known under several org-ids or names."""

    names: dict[str, str]  # ref → the name the directory files it under
    by_identifier: dict[str, str]  # normalised org-id → ref
    by_name: dict[str, str]  # loose_key(name) → ref

    def ref_for(self, ref: str, name: str | None) -> tuple[str, str] | None:
        """(the ref this organisation is filed under, how it was recognised) when the table
        knows it under another org-id or name; None when it does not."""
        known = self.by_identifier.get(org_id_key(ref))
        if known is not None and known != ref:
            return known, "identifier"
        known = self.by_name.get(loose_key(name)) if name else None
        if known is not None and known != ref:
            return known, "known name"
        return None


@cache
def known_organisations() -> KnownOrganisations:
    names: dict[str, str] = {}
    by_identifier: dict[str, str] = {}
    by_name: dict[str, str] = {}
    with (DATA_DIR / "organisations.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            ref = row["ref"]
            names[ref] = row["name"]
            for identifier in [ref, *split_list(row["identifiers"])]:
                by_identifier[org_id_key(identifier)] = ref
            for name in [row["name"], *row["names"].split(";")]:
                if name.strip():
                    by_name[loose_key(name)] = ref
    return KnownOrganisations(names, by_identifier, by_name)


class GeographyContext:
    """Resolve areas, themes, programmes and postcodes for one import."""

    def __init__(
        self, snap: GeographySnapshot, repo: GeographyRepository, *,
        giving360_prefix: str | None = None,
    ) -> None:  # fmt: skip
        self.snap = snap
        self.repo = repo
        #: our 360Giving publisher prefix (``Settings.giving360_prefix``)
        self.giving360_prefix = giving360_prefix
        #: the grants held whose whole ref starts with that prefix (read when first asked)
        self._prefixed_refs: set[str] | None = None
        self._prefixed_org_refs: set[str] | None = None
        self._themes = {key: t.id for t in themes() for key in t.keys}
        self._programmes = {key: p.id for p in programmes() for key in p.keys}
        self._areas: dict[str, list[str]] = {}
        self._area_items: dict[str, str | None] = {}  # one item of a list → its code
        self._hints: dict[str, str | None] = {}  # an item not known → what it may mean
        #: programmes named in the input that programmes.csv does not know: id → name
        self.new_programmes: dict[str, str] = {}
        #: the programmes held, by their names' loose keys (read when first needed)
        self._held_programmes: dict[str, str] | None = None
        #: postcode rows read ahead (canonical → row, None: not in the file)
        self._postcodes: dict[str, Any] = {}
        #: the Open Referral ids this directory made from its own refs, by kind (read when
        #: an Open Referral file first asks)
        self._made: dict[str, dict[str, Any]] | None = None
        #: the areas' codes by name (the patch contacts' titles name their areas)
        self._codes_by_name: dict[str, list[str]] | None = None

    # -- areas ---------------------------------------------------------------------
    def areas(self, text: str) -> list[str]:
        if text in self._areas:
            return list(self._areas[text])
        codes: list[str] = []
        unknown: list[str] = []
        for item in split_list(text):
            if item in self._area_items:
                code = self._area_items[item]
            else:
                code = self._area_items[item] = self._area(item)
            if code is None:
                unknown.append(item)
            elif code not in codes:
                codes.append(code)
        for item in unknown:  # a ward name several boroughs have: say so, and how to choose
            shared = self._wards_named(item)
            if len(shared) > 1:
                names = sorted({self.snap.areas[c].name for c in shared})
                boroughs = sorted(
                    self.snap.areas[self.snap.areas[c].parent_code].name for c in shared
                )
                raise ValueError(
                    f"'{item}' names a ward in {len(shared)} boroughs ({', '.join(boroughs)}): "
                    f"write it with its borough, as '{names[0]} ({boroughs[0]})', or its GSS code."
                )
        if unknown:
            hints = " ".join(filter(None, map(self._area_hint, unknown)))
            raise ValueError(
                f"{_quoted(unknown)} {'is not a London area' if len(unknown) == 1 else 'are not London areas'}"
                f" we know.{' ' + hints if hints else ''}"
                ' Use a borough name ("Kingston", "Kensington & Chelsea"), a BCU '
                '("Central West BCU"), a ward ("Abbey (Merton)" where wards of several boroughs '
                'share a name), a GSS code (E09000021) or "London-wide", separating areas with ";".'
            )
        if not codes:
            raise ValueError("No area given.")
        self._areas[text] = codes
        return list(codes)

    def _area(self, item: str) -> str | None:
        direct = self.area_code(item)
        if direct is not None:
            return direct
        key = normalise_name(item)
        if key in LONDON_WIDE:
            return LONDON
        if key in POLICE_DISTRICT_WIDE and MPD in self.snap.areas:
            return MPD
        if _BCU_WORDS.search(item):
            name = _AREA_WORD.sub(" ", _BCU_WORDS.sub(" ", item))
            return self.snap.matcher.resolve(name, "bcu")
        for area_type in _TYPES:
            code = self.snap.matcher.resolve(item, area_type)
            if code is not None:
                return code
        exact = self._wards_named(item)
        if len(exact) == 1:
            return exact[0]
        qualified = qualified_ward(self.snap, item)  # "Abbey (Merton)", as a problem suggests
        return qualified[0] if len(qualified) == 1 else None

    def _area_hint(self, item: str) -> str | None:
        """What an area not known may have meant: several areas written as one ("Kingston &
        Richmond"), or the areas spelled closest to it ("Camdem": Camden). The generic list
        of forms alone left the officer to find the mistake."""
        if item in self._hints:
            return self._hints[item]
        hint = None
        parts = [p.strip() for p in _JOINED.split(item) if p.strip()]
        if len(parts) > 1 and all(self._area(part) is not None for part in parts):
            hint = (
                f"'{item}' looks like {len(parts)} areas: separate them with \";\", as "
                f"'{'; '.join(parts)}'."
            )
        else:
            # the closest alone (a looser one, "LBTH" for "Lambth", misled), or the wards of
            # its name in several boroughs
            codes = self.snap.matcher.suggest(item, limit=5)
            best = self.snap.areas[codes[0]].name if codes else None
            names = [self._suggested(c) for c in codes if self.snap.areas[c].name == best][:3]
            if names:
                hint = f"Did you mean {' or '.join(names)} for '{item}'?"
        self._hints[item] = hint
        return hint

    def _suggested(self, code: str) -> str:
        """An area as a suggestion: as it can be written back (a ward with its borough)."""
        area = self.snap.areas[code]
        if area.type == "ward" and area.parent_code in self.snap.areas:
            return f"'{area.name} ({self.snap.areas[area.parent_code].name})'"
        return f"'{area.name}'"

    def _wards_named(self, item: str) -> list[str]:
        return [c for c, score in self.snap.matcher.match(item, "ward") if score == 100]

    def area_code(self, code: str) -> str | None:
        text = code.strip()
        for candidate in (text, text.upper(), text.lower()):
            if candidate in self.snap.areas:
                return candidate
        return None

    # -- taxonomy ------------------------------------------------------------------
    def themes(self, text: str) -> list[str]:
        found: list[str] = []
        unknown: list[str] = []
        for item in split_list(text):
            theme = self._themes.get(loose_key(item))
            if theme is None:
                unknown.append(item)
            elif theme not in found:
                found.append(theme)
        if unknown:
            hints = " ".join(filter(None, map(_theme_hint, unknown)))
            raise ValueError(
                f"{_quoted(unknown)} {'is not a theme' if len(unknown) == 1 else 'are not themes'}"
                f" of the directory.{' ' + hints if hints else ''} See GET /api/v1/themes (e.g. "
                '"Domestic abuse", "Violence and knife crime", "Youth diversion").'
            )
        return found

    def programme(self, text: str) -> str:
        """The id of the programme ``text`` names: one programmes.csv knows by that name or
        id, else one held under that name (compared loosely: the id it was given when first
        imported, whatever ``slug`` would make of the name now), else a new one."""
        key = loose_key(text)
        known = self._programmes.get(key)
        if known is not None:
            return known
        if self._held_programmes is None:
            self._held_programmes = {}
            for pid, name in sorted(CatalogueQueries(self.repo.session).programme_names()):
                self._held_programmes.setdefault(loose_key(name), pid)
        held = self._held_programmes.get(key) if key else None
        if held is not None:
            return held
        programme_id = slug(text)
        self.new_programmes.setdefault(programme_id, " ".join(text.split())[:200])
        return programme_id

    # -- postcodes -------------------------------------------------------------------
    def read_postcodes(self, texts: Iterable[str]) -> None:
        """Read the rows of these postcodes ahead, a few hundred a statement (instead of
        one statement per site); texts that are no postcode are left for ``postcode``.
        Only these are kept (those of the rows being read: a sheet's are read a chunk of
        rows at a time), not every one read before: a 100,000-row sheet names 70,000."""
        wanted = set()
        for text in texts:
            try:
                wanted.add(parse_postcode(text).canonical)
            except InvalidPostcodeError:
                continue
        kept = {
            canonical: self._postcodes[canonical] for canonical in wanted & self._postcodes.keys()
        }
        found = self.repo.postcodes(wanted - kept.keys())
        self._postcodes = kept | {c: found.get(c) for c in wanted if c not in kept}

    def postcodes_read(self) -> dict[str, Any]:
        """The rows last read ahead, by canonical postcode (None: not a postcode held)."""
        return self._postcodes

    def postcode(self, text: str) -> LocationRecord:
        try:
            pc = parse_postcode(text)
        except InvalidPostcodeError:
            raise ValueError(f"{text!r} is not a postcode.") from None
        if pc.canonical in self._postcodes:
            row = self._postcodes[pc.canonical]
        else:
            row = self.repo.postcode(pc.canonical)
        if row is None:
            raise ValueError(f"{pc.display} is not a London postcode we know.")
        if row.status != "live":
            raise ValueError(
                f"{pc.display} was terminated in {row.terminated}; give the current one."
            )
        return LocationRecord(ref="", postcode=row.canonical, lat=row.lat, lon=row.lon)

    # -- records this directory exported ----------------------------------------------
    def held_ref(self, kind: str, hsds_id: str) -> str | None:
        canonical = _as_uuid(hsds_id)
        return None if canonical is None else self._made_ids()[kind].get(canonical)

    def grant_ref(self, grant_id: str) -> str:
        """The ref of a grant a 360Giving file names ``grant_id``: our prefix taken off
        (:func:`own_ref`), unless a grant is held by the whole id (the publisher's earlier
        files under this same prefix, imported), which it stays."""
        ref = own_ref(grant_id, self.giving360_prefix)
        if self._prefixed_refs is None and ref != grant_id:
            queries = CatalogueQueries(self.repo.session)
            self._prefixed_refs = queries.grant_refs_starting(f"{self.giving360_prefix}-")
        return _unprefixed(grant_id, ref, self._prefixed_refs)

    def organisation_ref(self, org_id: str) -> str:
        """The ref of an organisation a 360Giving file names ``org_id``, as
        :meth:`grant_ref` (:func:`own_org_ref`)."""
        ref = own_org_ref(org_id, self.giving360_prefix)
        if self._prefixed_org_refs is None and ref != org_id:
            queries = CatalogueQueries(self.repo.session)
            self._prefixed_org_refs = queries.organisation_refs_starting(
                f"{self.giving360_prefix}-"
            )
        return _unprefixed(org_id, ref, self._prefixed_org_refs)

    def held_site(self, hsds_id: str) -> tuple[str, str] | None:
        canonical = _as_uuid(hsds_id)
        return None if canonical is None else self._made_ids()["location"].get(canonical)

    def made_here(self, kind: str, item: dict[str, Any], service_id: str) -> bool:
        if self._codes_by_name is None:
            self._codes_by_name = {}
            for code, area in self.snap.areas.items():
                self._codes_by_name.setdefault(area.name, []).append(code)
        return made_here(kind, item, service_id, lambda name: self._codes_by_name.get(name, ()))

    def _made_ids(self) -> dict[str, dict[str, Any]]:
        """Read when a file first gives a UUID: about 1.5 s for 100,000 services."""
        if self._made is None:
            self._made = made_from(HsdsQueries(self.repo.session).identifier_rows())
        return self._made


def _as_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


@cache
def _theme_hint(item: str) -> str | None:
    """The theme spelled closest to one not known ("Mentorin": Mentoring), as a question."""
    names = {key: t.name for t in themes() for key in t.keys}
    close = difflib.get_close_matches(loose_key(item), list(names), n=1, cutoff=0.75)
    return f"Did you mean '{names[close[0]]}' for '{item}'?" if close else None


def _quoted(items: list[str]) -> str:
    return ", ".join(f"'{i}'" for i in items)


def bng(lat: float, lon: float) -> tuple[float, float]:
    x, y = to_bng(lon, lat)
    return float(x), float(y)


def _unprefixed(given: str, ref: str, held: set[str] | None) -> str:
    """``ref`` (``given`` with our 360Giving prefix taken off), or ``given`` itself when it
    carried no prefix or a record is held by the whole of it."""
    return given if ref == given or (held is not None and given in held) else ref
