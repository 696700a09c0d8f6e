"""GeoJSON and CSV for lists of services: pure functions of a search result, no Flask.

* GeoJSON (RFC 7946, WGS84, ``[lon, lat]`` to 6 decimal places): one Feature per delivery
  site; a service without sites is one Feature with ``geometry: null`` and a ``coverage``
  property (its area codes). Properties are kept small (the service's id, ref, name,
  organisation, themes, status, the site's name and postcode, and the service's URL; the
  site's ``distance_m`` with ``near``). The collection carries OGC API – Features foreign
  members: ``numberMatched`` (features of every matching service), ``numberReturned``
  (features here) and ``links`` (self, first, prev, next, last, and the JSON alternate).
  Paging is by service: a page of N services gives N or more features.
* CSV: one row per service (id, ref, name, organisation, status, themes, coverage codes,
  site postcodes, programmes of its grants live today, last_verified, url; then
  ``distance_m`` with ``near`` and ``rank`` with ``q``). List cells are joined with "; ".
  A cell starting with ``= + - @``, a tab or a carriage return gets a leading ``'`` so that
  spreadsheets do not run it as a formula.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from geodata.postcodes import spaced_form

CSV_COLUMNS = (
    "id", "ref", "name", "organisation", "status", "themes", "coverage", "postcodes",
    "live_programmes", "last_verified", "url",
)  # fmt: skip
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def display_postcode(canonical: str | None) -> str | None:
    return spaced_form(canonical) or None


def _site_distance(site: Any, near: Any) -> float | None:
    if near is None or site.easting is None or site.northing is None:
        return None
    return round(math.hypot(site.easting - near.easting, site.northing - near.northing), 1)


def feature_collection(
    services: Sequence[Mapping[str, Any]],
    sites: Mapping[int, Sequence[Any]],
    *,
    number_matched: int,
    links: Sequence[Mapping[str, str]],
    url_prefix: str = "/api/v1/services/",
    near: Any = None,
    sites_only: bool = False,
) -> dict[str, Any]:
    """A FeatureCollection of the services' delivery sites (summaries as the JSON list gives
    them; sites as rows with id, name, postcode, lat, lon, easting, northing). A service
    without sites is one Feature with its coverage, unless ``sites_only`` (the sites given
    are those inside a ``bbox``: a service none of whose sites is inside sends nothing)."""
    features: list[dict[str, Any]] = []
    for service in services:
        base = {
            "service_id": service["id"],
            "ref": service["ref"],
            "name": service["name"],
            "organisation": service["organisation"]["name"],
            "themes": list(service["themes"]),
            "status": service["status"],
        }
        url = f"{url_prefix}{service['id']}"
        service_sites = sites.get(service["id"]) or []
        if not service_sites and sites_only:
            continue
        if not service_sites:
            features.append(
                {
                    "type": "Feature",
                    "id": f"{service['id']}",
                    "geometry": None,
                    "properties": {
                        **base,
                        "site": None,
                        "postcode": None,
                        "coverage": [a["code"] for a in service["coverage"]],
                        "url": url,
                    },
                }
            )
            continue
        for site in service_sites:
            geometry = None
            if site.lon is not None and site.lat is not None:
                geometry = {
                    "type": "Point",
                    "coordinates": [round(site.lon, 6), round(site.lat, 6)],
                }
            properties = {
                **base,
                "site": site.name,
                "postcode": display_postcode(site.postcode),
                "url": url,
            }
            if near is not None:
                properties["distance_m"] = _site_distance(site, near)
            features.append(
                {
                    "type": "Feature",
                    "id": f"{service['id']}-{site.id}",
                    "geometry": geometry,
                    "properties": properties,
                }
            )
    return {
        "type": "FeatureCollection",
        "numberMatched": number_matched,
        "numberReturned": len(features),
        "links": [dict(link) for link in links],
        "features": features,
    }


def neutralise(value: Any) -> str:
    """A cell as text, with a leading ' if a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _joined(values: Iterable[Any]) -> str:
    return "; ".join(str(v) for v in values if v not in (None, ""))


def csv_text(
    services: Sequence[Mapping[str, Any]],
    sites: Mapping[int, Sequence[Any]],
    programmes: Mapping[int, Sequence[str]],
    *,
    url_prefix: str,
    with_distance: bool = False,
    with_rank: bool = False,
) -> str:
    """The services as CSV text (header first, CRLF line ends as RFC 4180 says)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = list(CSV_COLUMNS)
    if with_distance:
        header.append("distance_m")
    if with_rank:
        header.append("rank")
    writer.writerow(header)
    for s in services:
        row = [
            s["id"],
            s["ref"],
            s["name"],
            s["organisation"]["name"],
            s["status"],
            _joined(s["themes"]),
            _joined(a["code"] for a in s["coverage"]),
            _joined(display_postcode(site.postcode) for site in sites.get(s["id"]) or []),
            _joined(programmes.get(s["id"]) or []),
            s["last_verified"] or "",
            f"{url_prefix}{s['id']}",
        ]
        if with_distance:
            row.append(s.get("distance_m"))
        if with_rank:
            row.append(s.get("rank"))
        writer.writerow([neutralise(v) for v in row])
    return out.getvalue()


# -- grants -----------------------------------------------------------------------------------
GRANT_CSV_COLUMNS = (
    "id", "ref", "title", "funder", "funder_ref", "recipient", "recipient_ref", "programme",
    "programme_name", "amount", "currency", "awarded", "start", "end", "financial_year",
    "status", "duration_months", "beneficiary_areas", "regrant_type", "paid_through",
    "withdrawn", "demo", "url",
)  # fmt: skip


def grants_csv(items: Sequence[Mapping[str, Any]], *, url_prefix: str) -> str:
    """Grants (as the JSON list gives them) as CSV text, one row each: amounts in pounds,
    dates as ISO 8601, beneficiary areas as GSS codes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(GRANT_CSV_COLUMNS)
    for g in items:
        programme = g["programme"] or {}
        row = [
            g["id"], g["ref"], g["title"], g["funder"]["name"], g["funder"]["ref"],
            g["recipient"]["name"], g["recipient"]["ref"], programme.get("id"),
            programme.get("name"), g["amount"], g["currency"], g["awarded"], g["start"],
            g["end"], g["financial_year"], g["status"], g["duration_months"],
            _joined(a["code"] for a in g["beneficiary_areas"]), g["regrant_type"],
            g["paid_through"], "yes" if g["withdrawn"] else "no", "yes" if g["demo"] else "no",
            f"{url_prefix}{g['id']}",
        ]  # fmt: skip
        writer.writerow([neutralise(v) for v in row])
    return out.getvalue()


# -- funding opportunities ---------------------------------------------------------------------
OPPORTUNITY_CSV_COLUMNS = (
    "id", "ref", "title", "funder", "programme", "status", "time_left", "opens_at",
    "closes_at", "decision_date", "amount_min", "amount_max", "total_pot", "awards_expected",
    "grant_months_min", "grant_months_max", "small_org_friendly", "small_org_rule", "themes",
    "areas", "how_to_apply_url", "url",
)  # fmt: skip


def opportunities_csv(items: Sequence[Mapping[str, Any]], *, url_prefix: str) -> str:
    """Opportunities (as the JSON list gives them) as CSV text, one row each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(OPPORTUNITY_CSV_COLUMNS)
    for o in items:
        months = o["grant_length_months"]
        row = [
            o["id"], o["ref"], o["title"], o["funder"]["name"],
            o["programme"]["id"] if o["programme"] else "", o["status"], o["time_left"],
            o["opens_at"] or "", o["closes_at"], o["decision_date"] or "", o["amount_min"],
            o["amount_max"], o["total_pot"], o["awards_expected"], months["min"], months["max"],
            "yes" if o["small_org_friendly"] else "no", o["small_org_rule"],
            _joined(t["id"] for t in o["themes"]), _joined(a["code"] for a in o["areas"]),
            o["how_to_apply_url"], f"{url_prefix}{o['id']}",
        ]  # fmt: skip
        writer.writerow([neutralise(v) for v in row])
    return out.getvalue()


def opportunities_feature_collection(
    items: Sequence[Mapping[str, Any]], geometries: Sequence[Any], *, number_matched: int,
    links: Sequence[Mapping[str, str]],
) -> dict[str, Any]:  # fmt: skip
    """A FeatureCollection of opportunities, each its areas' union as the geometry."""
    features = [
        {
            "type": "Feature",
            "id": str(o["id"]),
            "geometry": geometry,
            "properties": {
                "opportunity_id": o["id"],
                "ref": o["ref"],
                "title": o["title"],
                "funder": o["funder"]["name"],
                "status": o["status"],
                "time_left": o["time_left"],
                "opens_at": o["opens_at"],
                "closes_at": o["closes_at"],
                "small_org_friendly": o["small_org_friendly"],
                "amount_min": o["amount_min"],
                "amount_max": o["amount_max"],
                "themes": [t["id"] for t in o["themes"]],
                "areas": [a["code"] for a in o["areas"]],
                "how_to_apply_url": o["how_to_apply_url"],
                "url": o["url"],
            },  # fmt: skip
        }
        for o, geometry in zip(items, geometries, strict=True)
    ]
    return {
        "type": "FeatureCollection",
        "numberMatched": number_matched,
        "numberReturned": len(features),
        "links": [dict(link) for link in links],
        "features": features,
    }
