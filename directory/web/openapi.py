"""What the OpenAPI document says beyond the routes' own decorators, in one place.

An apispec plugin (:class:`DocumentPlugin`) runs on every operation as flask-smorest
registers it and adds:

- its ``operationId`` and a short ``summary`` from :data:`OPERATIONS` (the docstring
  flask-smorest took as the summary becomes the ``description``): stable, readable ids, a
  generated client's method names (a test checks every route of the app is in the table);
- the caching headers :mod:`directory.web.http` really sends on a 200 (``ETag``,
  ``Cache-Control``, ``Last-Modified``; ``Link`` on paged answers; ``X-Total-Count`` and
  ``Content-Disposition`` on CSV), the conditional request headers every read takes
  (``If-None-Match``, ``If-Modified-Since``, ``If-Match``, ``If-Unmodified-Since``) and
  its ``304 Not Modified`` and ``412`` problem; the probes' ``Cache-Control: no-store``;
- the headers a success of a write sends: ``RateLimit-*`` (on every answer of a
  rate-limited route), the ``ETag`` of the record written (the If-Match of its next
  change) and ``Location`` on a 201;
- the media types a route answers in without a schema in its decorators (GeoJSON and CSV
  on ``/patch``, Atom on ``/changes.atom``) and one description of the 200 naming them;
- examples on the main answers, from :mod:`directory.web.examples` (real demo answers);

and writes a schema that may be any value or null without a ``nullable`` OpenAPI 3.0 does
not define there.

:func:`spec_options` is the document's ``info`` and ``servers``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from apispec import BasePlugin

from directory.usecases import changes
from directory.usecases.problems import RENAMED_PHRASES
from directory.web import examples, http

#: the probes: answered whatever is sent, never cached, never conditional
PROBES = frozenset({"/health", "/ready"})
#: the security scheme of the write routes (directory/web/auth.py)
BEARER_SCHEME = "bearerAuth"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`lfsd_<prefix>_<secret>`, made by `directory keys "
        "create`) as `Authorization: Bearer <key>`. Only the write routes take one; reads "
        "are open. Roles: admin (everything); officer (MOPAC and borough staff: imports, "
        "opportunities, merging organisations, moderation of feedback); editor (one "
        "organisation's services, sites, contacts, outcomes and practice notes). Writes are "
        "rate-limited per key "
        "(`DIRECTORY_RATE_LIMIT_WRITES`, default 60/minute;1000/hour): every answer of a "
        "write route says the limit in `RateLimit-*` headers, and one over it is a 429 with "
        "`Retry-After`.",
    }
}


@dataclass(frozen=True)
class Operation:
    #: the operationId: a generated client's method name (camelCase, stable)
    id: str
    #: a short summary (the docstring becomes the description)
    summary: str
    #: answers a page with RFC 8288 Link headers to first/prev/next/last: True, or "json"
    #: when only its JSON representation is a page, "not-json" when all but its JSON (the
    #: patch, whose services envelope says its place), or "offset" for prev/next only (the
    #: OGC API's items, paged by offset)
    paged: bool | str = False
    #: the 200's description when it answers in several media types
    ok: str | None = None


_GEOJSON = "GeoJSON with `format=geojson` or `Accept: application/geo+json`"
_CSV = "CSV (an attachment) with `format=csv` or `Accept: text/csv`"

#: every documented operation, by (method, path)
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("get", "/health"): Operation("getHealth", "Liveness"),
    ("get", "/ready"): Operation("getReadiness", "Readiness"),
    ("get", "/api/v1"): Operation("getApiRoot", "The API's entry point"),
    ("get", "/api/v1/postcodes/{postcode}"): Operation("getPostcode", "Look up a postcode"),
    ("post", "/api/v1/postcodes/lookup"): Operation("lookupPostcodes", "Look up many postcodes"),
    ("get", "/api/v1/outcodes/{outcode}"): Operation("getOutcode", "Look up an outcode"),
    ("get", "/api/v1/locate"): Operation("locatePoint", "The areas of a point"),
    ("get", "/api/v1/areas"): Operation(
        "listAreas",
        "List areas",
        paged="json",
        ok="A page of areas as JSON (default); a whole layer as a GeoJSON FeatureCollection "
        "with `format=geojson` or `Accept: application/geo+json`",
    ),
    ("get", "/api/v1/areas/{code}"): Operation("getArea", "One area"),
    ("get", "/api/v1/areas/{code}/boundary"): Operation("getAreaBoundary", "An area's boundary"),
    ("get", "/api/v1/areas/{code}/comparison"): Operation(
        "getAreaComparison", "A borough beside its similar boroughs and London"
    ),
    ("get", "/api/v1/patch"): Operation(
        "getPatch",
        "What is in my patch",
        paged="not-json",
        ok=f"The patch as JSON (default); its page of services as {_GEOJSON}, or as {_CSV}",
    ),
    ("get", "/api/v1/patch/why"): Operation("getPatchWhy", "Why a service is (not) in a patch"),
    ("post", "/api/v1/patch/lookup"): Operation("lookupPatches", "The patches of many postcodes"),
    ("get", "/api/v1/services"): Operation(
        "listServices",
        "Search the services",
        paged=True,
        ok=f"A page of services as JSON (default), as {_GEOJSON}, or as {_CSV}",
    ),
    ("get", "/api/v1/services/{key}"): Operation("getService", "One service"),
    ("post", "/api/v1/services"): Operation("createService", "Add a service"),
    ("patch", "/api/v1/services/{key}"): Operation("updateService", "Change a service"),
    ("delete", "/api/v1/services/{key}"): Operation("withdrawService", "Withdraw a service"),
    ("get", "/api/v1/services/{key}/sites/{site_ref}"): Operation(
        "getServiceSite", "One delivery site"
    ),
    ("post", "/api/v1/services/{key}/sites"): Operation("createServiceSite", "Add a delivery site"),
    ("patch", "/api/v1/services/{key}/sites/{site_ref}"): Operation(
        "updateServiceSite", "Change a delivery site"
    ),
    ("delete", "/api/v1/services/{key}/sites/{site_ref}"): Operation(
        "deleteServiceSite", "Remove a delivery site"
    ),
    ("get", "/api/v1/services/{key}/outcomes/{outcome_id}"): Operation(
        "getServiceOutcome", "One outcome of a service"
    ),
    ("post", "/api/v1/services/{key}/outcomes"): Operation(
        "createServiceOutcome", "Add an outcome"
    ),
    ("patch", "/api/v1/services/{key}/outcomes/{outcome_id}"): Operation(
        "updateServiceOutcome", "Change an outcome"
    ),
    ("delete", "/api/v1/services/{key}/outcomes/{outcome_id}"): Operation(
        "deleteServiceOutcome", "Remove an outcome"
    ),
    ("get", "/api/v1/contacts"): Operation("listContacts", "Patch contacts", paged=True),
    ("post", "/api/v1/contacts"): Operation("createContact", "Add a patch contact"),
    ("get", "/api/v1/contacts/{contact_id}"): Operation("getContact", "One patch contact"),
    ("patch", "/api/v1/contacts/{contact_id}"): Operation(
        "updateContact", "Change a patch contact"
    ),
    ("delete", "/api/v1/contacts/{contact_id}"): Operation(
        "deleteContact", "Remove a patch contact"
    ),
    ("get", "/api/v1/services/{key}/history"): Operation(
        "getServiceHistory", "A service's change history", paged=True
    ),
    ("get", "/api/v1/opportunities/{key}/history"): Operation(
        "getOpportunityHistory", "An opportunity's change history", paged=True
    ),
    ("get", "/api/v1/contacts/{contact_id}/history"): Operation(
        "getContactHistory", "A patch contact's change history", paged=True
    ),
    ("get", "/api/v1/services/{key}/outcomes"): Operation(
        "listServiceOutcomes", "A service's outcomes"
    ),
    ("get", "/api/v1/organisations"): Operation(
        "listOrganisations", "List organisations", paged=True
    ),
    ("get", "/api/v1/organisations/{key}"): Operation("getOrganisation", "One organisation"),
    ("post", "/api/v1/organisations/{key}/merge"): Operation(
        "mergeOrganisation", "Merge a duplicated organisation into another"
    ),
    ("get", "/api/v1/grants"): Operation("listGrants", "Search the grants", paged=True),
    ("get", "/api/v1/grants.360giving.json"): Operation(
        "getGrants360Giving", "The grants as a 360Giving package"
    ),
    ("get", "/api/v1/grants/{key}"): Operation("getGrant", "One grant"),
    ("get", "/api/v1/partners"): Operation("listPartners", "Partners near a place", paged=True),
    ("get", "/api/v1/themes"): Operation("listThemes", "The theme taxonomy"),
    ("get", "/api/v1/changes"): Operation("listChanges", "What changed", paged=True),
    ("get", "/api/v1/changes.atom"): Operation(
        "getChangesFeed",
        "What changed, as an Atom feed",
        ok=f"An Atom 1.0 feed of the newest {changes.FEED_LIMIT} changes the filters select, "
        "not paged (it takes no page or per_page: for older ones, page through /changes or "
        "narrow since)",
    ),
    ("get", "/api/v1/opportunities"): Operation(
        "listOpportunities",
        "Funding opportunities",
        paged=True,
        ok=f"A page of opportunities as JSON (default), as {_GEOJSON}, or as {_CSV}",
    ),
    ("post", "/api/v1/opportunities"): Operation("createOpportunity", "Add a funding opportunity"),
    ("get", "/api/v1/opportunities/{key}"): Operation("getOpportunity", "One funding opportunity"),
    ("patch", "/api/v1/opportunities/{key}"): Operation(
        "updateOpportunity", "Change a funding opportunity"
    ),
    ("delete", "/api/v1/opportunities/{key}"): Operation(
        "withdrawOpportunity", "Withdraw a funding opportunity"
    ),
    ("get", "/api/v1/opportunities.atom"): Operation(
        "getOpportunitiesFeed", "Funding opportunities, as an Atom feed", ok="An Atom 1.0 feed"
    ),
    ("get", "/api/v1/opportunities.ics"): Operation(
        "getOpportunitiesCalendar",
        "Funding deadlines, as an iCalendar feed",
        ok="An iCalendar (RFC 5545) feed",
    ),
    ("get", "/api/v1/ogc"): Operation("getLandingPage", "OGC API – Features: landing page"),
    ("get", "/api/v1/ogc/conformance"): Operation(
        "getConformanceDeclaration", "OGC API – Features: conformance classes"
    ),
    ("get", "/api/v1/ogc/collections"): Operation(
        "getCollections", "OGC API – Features: the collections"
    ),
    ("get", "/api/v1/ogc/collections/{collection_id}"): Operation(
        "describeCollection", "OGC API – Features: one collection"
    ),
    ("get", "/api/v1/ogc/collections/{collection_id}/items"): Operation(
        "getFeatures", "OGC API – Features: a page of features", paged="offset"
    ),
    ("get", "/api/v1/ogc/collections/{collection_id}/items/{feature_id}"): Operation(
        "getFeature", "OGC API – Features: one feature"
    ),
    ("get", "/api/v1/imports"): Operation("listImports", "Import runs", paged=True),
    ("post", "/api/v1/imports"): Operation("createImport", "Upload a file to import"),
    ("get", "/api/v1/imports/{run_id}"): Operation("getImport", "One import run"),
    ("get", "/api/v1/status"): Operation("getStatus", "The directory's status"),
    ("get", "/api/v1/funding/summary"): Operation("getFundingSummary", "Funding summary"),
    ("get", "/api/v1/funding/need"): Operation("getFundingNeed", "Funding against need"),
    ("get", "/api/v1/funding/timeliness"): Operation(
        "getFundingTimeliness", "Timeliness of funding decisions"
    ),
    ("get", "/api/v1/programmes"): Operation("listProgrammes", "Funding programmes", paged=True),
    ("get", "/api/v1/programmes/{programme_id}"): Operation(
        "getProgramme", "One funding programme"
    ),
    ("get", "/api/v1/programmes/{programme_id}/fairness"): Operation(
        "getProgrammeFairness", "Does a programme's money track recorded crime?"
    ),
    ("get", "/api/v1/outcomes/summary"): Operation("getOutcomesSummary", "Outcomes summary"),
    ("post", "/api/v1/services/{key}/feedback"): Operation(
        "sendServiceFeedback", "Tell us about a service"
    ),
    ("post", "/api/v1/opportunities/{key}/feedback"): Operation(
        "sendOpportunityFeedback", "Tell us about a funding opportunity"
    ),
    ("get", "/api/v1/feedback"): Operation("listFeedback", "Feedback to moderate", paged=True),
    ("get", "/api/v1/feedback/{feedback_id}"): Operation("getFeedback", "One feedback"),
    ("patch", "/api/v1/feedback/{feedback_id}"): Operation(
        "moderateFeedback", "Answer or close feedback, or accept its correction"
    ),
    ("get", "/api/v1/practice"): Operation("listPracticeNotes", "What worked", paged=True),
    ("post", "/api/v1/practice"): Operation("createPracticeNote", "Publish a practice note"),
    ("get", "/api/v1/practice/{note_id}"): Operation("getPracticeNote", "One practice note"),
    ("patch", "/api/v1/practice/{note_id}"): Operation(
        "updatePracticeNote", "Change a practice note"
    ),
    ("delete", "/api/v1/practice/{note_id}"): Operation(
        "withdrawPracticeNote", "Withdraw a practice note"
    ),
    ("get", "/problems/{code}"): Operation(
        "getProblemType", "What a problem code means and what to do"
    ),
    ("get", "/api/v1/hsds"): Operation("getHsdsRoot", "Open Referral (HSDS 3.0 / ORUK) root"),
    ("get", "/api/v1/hsds/services"): Operation("listHsdsServices", "HSDS services", paged=True),
    ("get", "/api/v1/hsds/services/{service_id}"): Operation("getHsdsService", "One HSDS service"),
    ("get", "/api/v1/hsds/service_at_locations"): Operation(
        "listHsdsServiceAtLocations", "HSDS services at locations", paged=True
    ),
    ("get", "/api/v1/hsds/service_at_locations/{service_at_location_id}"): Operation(
        "getHsdsServiceAtLocation", "One HSDS service at a location"
    ),
    ("get", "/api/v1/hsds/locations"): Operation("listHsdsLocations", "HSDS locations", paged=True),
    ("get", "/api/v1/hsds/locations/{location_id}"): Operation(
        "getHsdsLocation", "One HSDS location"
    ),
    ("get", "/api/v1/hsds/organizations"): Operation(
        "listHsdsOrganizations", "HSDS organizations", paged=True
    ),
    ("get", "/api/v1/hsds/organizations/{organization_id}"): Operation(
        "getHsdsOrganization", "One HSDS organization"
    ),
    ("get", "/api/v1/hsds/taxonomies"): Operation(
        "listHsdsTaxonomies", "HSDS taxonomies", paged=True
    ),
    ("get", "/api/v1/hsds/taxonomies/{taxonomy_id}"): Operation(
        "getHsdsTaxonomy", "One HSDS taxonomy"
    ),
    ("get", "/api/v1/hsds/taxonomy_terms"): Operation(
        "listHsdsTaxonomyTerms", "HSDS taxonomy terms", paged=True
    ),
    ("get", "/api/v1/hsds/taxonomy_terms/{taxonomy_term_id}"): Operation(
        "getHsdsTaxonomyTerm", "One HSDS taxonomy term"
    ),
}

#: media types a route answers in that its decorators carry no schema for
MEDIA_TYPES: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("get", "/api/v1/patch"): {
        http.GEOJSON_MIMETYPE: {
            "schema": {"$ref": "#/components/schemas/ServiceFeatureCollection"}
        },
        http.CSV_MIMETYPE: {"schema": {"type": "string"}},
    },
    ("get", "/api/v1/changes.atom"): {http.ATOM_MIMETYPE: {"schema": {"type": "string"}}},
    ("get", "/api/v1/opportunities.atom"): {http.ATOM_MIMETYPE: {"schema": {"type": "string"}}},
    ("get", "/api/v1/opportunities.ics"): {http.CALENDAR_MIMETYPE: {"schema": {"type": "string"}}},
}

#: an example of each path parameter, by path: real keys of the demo directory (the API
#: takes an id or a ref; refs stay the same from one load to the next)
PATH_EXAMPLES: dict[str, dict[str, Any]] = {
    "/api/v1/postcodes/{postcode}": {"postcode": "SW2 1RW"},
    "/api/v1/outcodes/{outcode}": {"outcode": "SW2"},
    "/api/v1/areas/{code}": {"code": "E09000022"},
    "/api/v1/areas/{code}/boundary": {"code": "E09000022"},
    "/api/v1/areas/{code}/comparison": {"code": "E09000008"},
    "/api/v1/services/{key}": {"key": "london-victim-and-witness-service"},
    "/api/v1/services/{key}/history": {"key": "london-victim-and-witness-service"},
    "/api/v1/services/{key}/outcomes": {"key": "london-victim-and-witness-service"},
    "/api/v1/services/{key}/sites": {"key": "oxygen-kingston-knife-crime"},
    "/api/v1/services/{key}/sites/{site_ref}": {
        "key": "oxygen-kingston-knife-crime",
        "site_ref": "oxygen-kingston-site-1",
    },
    "/api/v1/services/{key}/outcomes/{outcome_id}": {
        "key": "oxygen-kingston-knife-crime",
        "outcome_id": 3,
    },
    "/api/v1/contacts/{contact_id}": {"contact_id": 1},
    "/api/v1/contacts/{contact_id}/history": {"contact_id": 1},
    "/api/v1/organisations/{key}": {"key": "GB-GOR-PC390"},
    "/api/v1/organisations/{key}/merge": {"key": "GB-GOR-PC390"},
    "/api/v1/grants/{key}": {"key": "demo-rescue-and-response-2023-24"},
    "/api/v1/imports/{run_id}": {"run_id": 1},
    "/api/v1/opportunities/{key}": {"key": "demo-vru-youth-violence-round"},
    "/api/v1/opportunities/{key}/history": {"key": "demo-vru-youth-violence-round"},
    "/api/v1/services/{key}/feedback": {"key": "london-victim-and-witness-service"},
    "/api/v1/opportunities/{key}/feedback": {"key": "demo-vru-youth-violence-round"},
    "/api/v1/feedback/{feedback_id}": {"feedback_id": 1},
    "/api/v1/practice/{note_id}": {"note_id": 1},
    "/api/v1/ogc/collections/{collection_id}": {"collection_id": "wards"},
    "/api/v1/ogc/collections/{collection_id}/items": {"collection_id": "sites"},
    "/api/v1/ogc/collections/{collection_id}/items/{feature_id}": {
        "collection_id": "boroughs",
        "feature_id": "E09000022",
    },
    "/api/v1/programmes/{programme_id}": {"programme_id": "vru"},
    "/problems/{code}": {"code": "area-not-found"},
    "/api/v1/programmes/{programme_id}/fairness": {
        "programme_id": "home-office-safer-streets-fund-round-5"
    },
    # HSDS ids derive from refs (directory/usecases/hsds.py): the same on every load
    "/api/v1/hsds/services/{service_id}": {"service_id": "1d6348dd-3bbf-59ad-bd46-0d4d4d6707f7"},
    "/api/v1/hsds/organizations/{organization_id}": {
        "organization_id": "6cfce774-abb1-5850-8fab-b3f80a994f0c"
    },
    "/api/v1/hsds/service_at_locations/{service_at_location_id}": {
        "service_at_location_id": "89bf0c0b-8b26-5ee2-a0ca-726a29620ce0"
    },
    "/api/v1/hsds/locations/{location_id}": {"location_id": "de714f9a-d5a2-5b4a-a203-8bc3a3a782dd"},
    "/api/v1/hsds/taxonomies/{taxonomy_id}": {
        "taxonomy_id": "011b99d0-7fb5-5235-b85a-5381807b9120"
    },
    "/api/v1/hsds/taxonomy_terms/{taxonomy_term_id}": {
        "taxonomy_term_id": "aa4eb8c9-674b-58b4-bcf5-22066c56be37"
    },
}

HEADERS: dict[str, dict[str, Any]] = {
    "RequestId": {
        "description": "The request's id: the X-Request-Id the request came with (nginx's "
        "`$request_id`, or a client's) when it is 1-200 printable ASCII characters without "
        "spaces, else a new one. The server's log lines of the request name it, and a 5xx "
        "problem's `request_id` too: quote it when reporting a failure",
        "required": True,
        "schema": {"type": "string", "maxLength": 200},
    },
    "ETag": {
        "description": "The answer's entity tag: send it back in If-None-Match to get a 304 "
        "while the answer is unchanged (a compressed body's tag ends in `:zstd` or `:gzip`; "
        "in If-None-Match any form matches, in a read's If-Match and If-Range only the tag "
        "of the coding the request gets, in a write's If-Match any form)",
        "required": True,
        "schema": {"type": "string"},
    },
    "CacheControl": {
        "description": "`public, max-age=N` (N: DIRECTORY_CACHE_MAX_AGE seconds); "
        "`private, no-store` on the reads that need a key (feedback: personal data)",
        "required": True,
        "schema": {"type": "string"},
    },
    "LastModified": {
        "description": "When the data the answer was read from was loaded, or the last "
        "midnight if later (answers depend on London's day, for grant statuses and an "
        "opportunity's days left: in summer it begins at 23:00 UTC, and the stamp turns over "
        "then and again at UTC midnight); absent on answers "
        "that read no loaded data, and on those that change without it (opportunities, a "
        "service, records changed over the API, import runs, feedback: their ETag hashes the body)",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'RFC 8288 links to the first, previous, next and last pages (`rel="…"`)',
        "required": True,
        "schema": {"type": "string"},
    },
    "LinkOffset": {
        "description": 'RFC 8288 links to the previous and next pages (`rel="prev"`, '
        '`rel="next"`), the same as the body\'s `links`; absent when there is neither',
        "schema": {"type": "string"},
    },
    "LinkNotOnJson": {
        "description": "On GeoJSON and CSV: RFC 8288 links to the first, previous, next and "
        'last pages of services (`rel="…"`); the JSON says its place in its `services`',
        "schema": {"type": "string"},
    },
    "LinkOnJson": {
        "description": "On JSON: RFC 8288 links to the first, previous, next and last pages "
        '(`rel="…"`)',
        "schema": {"type": "string"},
    },
    "PageLinks": {
        "description": "A paged list's RFC 8288 links, as its 200 sends them",
        "schema": {"type": "string"},
    },
    "TotalCount": {
        "description": "On CSV: how many match (the CSV holds one page of them)",
        "schema": {"type": "integer"},
    },
    "ContentDisposition": {
        "description": "On CSV: an attachment with a file name; on a calendar: inline, with one",
        "schema": {"type": "string"},
    },
    "AcceptRanges": {
        "description": "`bytes`: a Range request gets the part asked for (206), as GDAL's "
        "HTTP reader asks",
        "schema": {"type": "string", "enum": ["bytes"]},
    },
    "ContentRange": {
        "description": "`bytes first-last/length`, of the answer as sent (gzip or not)",
        "required": True,
        "schema": {"type": "string"},
    },
    "WWWAuthenticate": {
        "description": 'The challenge (RFC 6750): `Bearer realm="directory"`, with '
        '`error="invalid_token"` when the key sent is bad, `error="insufficient_scope"` '
        "when its role may not do this",
        "required": True,
        "schema": {"type": "string"},
    },
    "ContentLocation": {
        "description": "An area asked for by name or by its code in another case "
        "(`/areas/Kingston`): the URL of the same answer by its code "
        "(`/api/v1/areas/E09000021`, the query kept), the one to link and to cache; absent "
        "when asked by the code itself",
        "schema": {"type": "string"},
    },
    "RecordETag": {
        "description": "The record's entity tag as written (strong, of the body): send it "
        "in If-Match with the next change of the record (PATCH or DELETE), which answers "
        "412 once someone else has changed it",
        "required": True,
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "Where the new record is read (a path on this server)",
        "required": True,
        "schema": {"type": "string"},
    },
    "RateLimitLimit": {
        "description": "Requests allowed in the current window of the route's rate limit "
        "(on every answer of a rate-limited route)",
        "required": True,
        "schema": {"type": "integer"},
    },
    "RateLimitRemaining": {
        "description": "Requests left in the current window",
        "required": True,
        "schema": {"type": "integer"},
    },
    "RateLimitReset": {
        "description": "Seconds until the current window ends",
        "required": True,
        "schema": {"type": "integer"},
    },
    "RetryAfter": {
        "description": "Seconds to wait before asking again",
        "required": True,
        "schema": {"type": "integer"},
    },
    "NoStore": {
        "description": "`no-store`: the answer is never cached (a probe's, a read's failed "
        "precondition)",
        "required": True,
        "schema": {"type": "string", "enum": ["no-store"]},
    },
    "NoStoreOutage": {
        "description": "`no-store` on a read's answer: an outage's is never cached",
        "schema": {"type": "string", "enum": ["no-store"]},
    },
    "RetryAfterOutage": {
        "description": "On a 503: seconds to wait before asking again",
        "schema": {"type": "integer"},
    },
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "description": "ETags of answers held: a 304 with no body while the answer's ETag "
        "is one of them (or `*`)",
        "schema": {"type": "string"},
    },
    "IfModifiedSince": {
        "name": "If-Modified-Since",
        "in": "header",
        "description": "An HTTP date: a 304 with no body if the answer is unchanged since "
        "(when If-None-Match is not sent)",
        "schema": {"type": "string"},
    },
    "IfMatchRead": {
        "name": "If-Match",
        "in": "header",
        "description": "ETags (or `*`): a 412 problem unless the answer's ETag, as this "
        "request gets it (its coding's suffix included), is one of them, compared strongly; "
        "with Range, a part only of the answer named",
        "schema": {"type": "string"},
    },
    "IfUnmodifiedSince": {
        "name": "If-Unmodified-Since",
        "in": "header",
        "description": "An HTTP date: a 412 problem if the answer's Last-Modified is later "
        "(when If-Match is not sent)",
        "schema": {"type": "string"},
    },
}

NOT_MODIFIED = {
    "description": "Not Modified: the answer is the one held (If-None-Match or "
    "If-Modified-Since); no body, the headers its 200 sends",
    "headers": {
        "ETag": "ETag", "Cache-Control": "CacheControl", "Last-Modified": "LastModified",
        "Accept-Ranges": "AcceptRanges", "Link": "PageLinks",
        "Content-Location": "ContentLocation", "Content-Disposition": "ContentDisposition",
        "X-Total-Count": "TotalCount",
    },
}  # fmt: skip

PRECONDITION_FAILED = {
    "description": "precondition-failed: the answer's ETag, as this request gets it, is "
    "not one named in If-Match, or (without If-Match) its Last-Modified is later than "
    "If-Unmodified-Since (`current_etag` and the ETag header name the current one)",
    "headers": {"ETag": "ETag", "Cache-Control": "NoStore"},
    "content": {http.PROBLEM_MIMETYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}

RANGE_NOT_SATISFIABLE = {
    "description": "range-not-satisfiable: the range asked for is not in the answer "
    "(Content-Range says its length)",
    "headers": {"Content-Range": "ContentRange", "Accept-Ranges": "AcceptRanges"},
    "content": {http.PROBLEM_MIMETYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


class DocumentPlugin(BasePlugin):
    """Adds what :mod:`directory.web.openapi` describes to every operation."""

    def init_spec(self, spec: Any) -> None:
        super().init_spec(spec)
        for name, header in HEADERS.items():
            spec.components.header(name, header)
        for name, parameter in PARAMETERS.items():
            spec.components.parameter(name, parameter["in"], parameter)
        for name, scheme in SECURITY_SCHEMES.items():
            spec.components.security_scheme(name, scheme)
        for name, response in (
            ("NotModified", NOT_MODIFIED),
            ("RangeNotSatisfiable", RANGE_NOT_SATISFIABLE),
            ("PreconditionFailed", PRECONDITION_FAILED),
        ):
            spec.components.response(name, _with_request_id(response))

    def schema_helper(self, name: str, definition: dict[str, Any], **kwargs: Any) -> None:
        """A schema with no ``type`` that may be null (a marshmallow ``Raw`` field with
        ``allow_none``) is written without ``nullable``, which OpenAPI 3.0 defines only beside
        a ``type`` (Spectral refuses it alone): with no type it allows null already, and
        with typed alternatives (``oneOf``/``anyOf``) each of them takes the ``nullable``. A
        nullable nested schema is ``anyOf`` the schema or null (:func:`nullable_ref`)."""
        _drop_untyped_nullable(definition)

    def path_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        parameters: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        """An example on each path parameter (the Flask plugin has documented them)."""
        rule = kwargs.get("rule")
        if rule is None:
            return
        template = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for parameter in parameters or []:
            example = PATH_EXAMPLES.get(template, {}).get(parameter.get("name"))
            if parameter.get("in") == "path" and example is not None:
                parameter["example"] = example

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            key = (method, path or "")
            described = OPERATIONS.get(key) or _derived(method, path or "")
            _describe(operation, described)
            ok = operation.get("responses", {}).get(200) or operation["responses"].get("200")
            if ok is not None:
                if key in MEDIA_TYPES:
                    content = ok.setdefault("content", {})
                    for media_type, entry in MEDIA_TYPES[key].items():
                        content.setdefault(media_type, entry)
                if described.ok:
                    ok["description"] = described.ok
                example = examples.EXAMPLES.get(described.id)
                if example is not None and "application/json" in ok.get("content", {}):
                    ok["content"]["application/json"]["example"] = example
                _document_headers(method, path or "", operation, ok, described)
            _document_write_headers(key, operation)
            for response in operation.get("responses", {}).values():
                if isinstance(response, dict) and "$ref" not in response:
                    response.setdefault("headers", {})["X-Request-Id"] = "RequestId"


def _with_request_id(response: dict[str, Any]) -> dict[str, Any]:
    """``response`` with the X-Request-Id every answer carries (:mod:`directory.web.logs`)."""
    return {**response, "headers": {**response.get("headers", {}), "X-Request-Id": "RequestId"}}


#: statuses Python 3.13 renamed after RFC 9110 (``http.HTTPStatus``, whose names and phrases
#: flask-smorest gives its error responses): the new name → the one the document keeps
_RENAMED_STATUSES = {
    "UNPROCESSABLE_CONTENT": "UNPROCESSABLE_ENTITY",
    "CONTENT_TOO_LARGE": "REQUEST_ENTITY_TOO_LARGE",
    "URI_TOO_LONG": "REQUEST_URI_TOO_LONG",
    "RANGE_NOT_SATISFIABLE": "REQUESTED_RANGE_NOT_SATISFIABLE",
}
#: and their phrases, the new → the one the document keeps
_RENAMED_PHRASES = dict(RENAMED_PHRASES.values())


def same_on_every_python(document: dict[str, Any]) -> dict[str, Any]:
    """The document with what Python 3.13 renamed under the names and phrases 3.11 gives
    (response components, the references to them, bare phrases as descriptions), so that
    every supported Python makes the committed document."""
    responses = document.get("components", {}).get("responses", {})
    refs = {}
    for new, old in _RENAMED_STATUSES.items():
        if new in responses:
            responses[old] = responses.pop(new)
            refs[f"#/components/responses/{new}"] = f"#/components/responses/{old}"

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and value in refs:
                    node[key] = refs[value]
                elif key == "description" and isinstance(value, str) and value in _RENAMED_PHRASES:
                    node[key] = _RENAMED_PHRASES[value]
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return document


def nullable_ref(ref: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``anyOf`` of a referenced schema or null, as OpenAPI 3.0.3 reads ``nullable``.

    ``nullable: true`` adds null only to the ``type`` beside it, so ``{type: object,
    nullable: true, allOf: [{$ref}]}`` still refuses null in its ``allOf`` (strict
    validators do, and a generated client parses null as the object and crashes). The
    second branch is null and nothing else, the form the OpenAPI Initiative's
    clarification of ``nullable`` (proposal 003) gives: openapi-python-client makes the
    pair ``Schema | None``, and Spectral's typed-enum rule takes null in a nullable enum.
    """
    return [ref, {"type": "object", "nullable": True, "enum": [None]}]


def _drop_untyped_nullable(schema: Any) -> None:
    if isinstance(schema, dict):
        alternatives = schema.get("anyOf")
        if (
            isinstance(alternatives, list)
            and len(alternatives) == 2
            and alternatives[0] == {"type": "object", "nullable": True}
            and set(alternatives[1]) == {"$ref"}
        ):
            # apispec's nullable Nested field: "an object or null, or the schema", whose
            # first branch takes any object at all; written as the schema or null
            schema["anyOf"] = nullable_ref(alternatives[1])
        if schema.get("nullable") and "type" not in schema and "$ref" not in schema:
            alternatives = schema.get("oneOf") or schema.get("anyOf") or []
            if all("type" in alternative for alternative in alternatives):
                # null is allowed by each typed alternative instead (by none if untyped)
                del schema["nullable"]
                for alternative in alternatives:
                    alternative["nullable"] = True
        for member in schema.values():
            _drop_untyped_nullable(member)
    elif isinstance(schema, list):
        for item in schema:
            _drop_untyped_nullable(item)


def _derived(method: str, path: str) -> Operation:
    """An operation missing from the table (a test's own route): its id from the method and
    path (``GET /api/v1/things/{key}`` → ``getThingsByKey``). Every route of the
    application is in the table (a test checks)."""
    words = [method.lower()]
    for segment in path.strip("/").split("/"):
        if segment in ("api", "v1") or not segment:
            continue
        if segment.startswith("{"):
            words.append("By")
            segment = segment.strip("{}")
        words.extend(w.capitalize() for w in re.split(r"[^A-Za-z0-9]+", segment) if w)
    return Operation("".join(words), f"{method.upper()} {path}")


def _describe(operation: dict[str, Any], described: Operation) -> None:
    """operationId and summary from the table; the docstring becomes the description."""
    docstring = "\n\n".join(
        part for part in (operation.get("summary"), operation.get("description")) if part
    )
    operation["operationId"] = described.id
    operation["summary"] = described.summary
    operation["description"] = docstring or described.summary


#: the reads whose CSV is one page of what matches, saying how many match (X-Total-Count)
TOTAL_ON_CSV = frozenset({"listServices", "listGrants", "getPatch"})
#: the headers of a read's outage (5xx): documented on its ``default`` answer too
#: (:class:`directory.web.api.Api`)
OUTAGE_HEADERS = {"Cache-Control": "NoStoreOutage", "Retry-After": "RetryAfterOutage"}

#: writes whose success answers are no record to change next (no ETag): the lookups read,
#: an import run is never changed over the API, nor a merge's report
WRITES_WITHOUT_ETAG = frozenset(
    {("post", "/api/v1/imports"), ("post", "/api/v1/organisations/{key}/merge")}
)

_RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "RateLimitLimit",
    "RateLimit-Remaining": "RateLimitRemaining",
    "RateLimit-Reset": "RateLimitReset",
}


def _document_write_headers(key: tuple[str, str], operation: dict[str, Any]) -> None:
    """The headers :mod:`directory.web.limits` and :mod:`directory.web.writing` send on a
    success: ``RateLimit-*`` on every answer of a rate-limited route (one that documents
    its 429, reads too), a keyed write's ``ETag`` of the record it answers with (the
    If-Match of its next change), and ``Location`` on a 201."""
    responses = operation.get("responses", {})
    limited = 429 in responses or "429" in responses
    for status, response in responses.items():
        if not isinstance(response, dict) or "$ref" in response:
            continue
        if not str(status).startswith("2"):
            continue
        headers = response.setdefault("headers", {})
        if limited:
            headers.update(_RATE_LIMIT_HEADERS)
        if key[0] == "get":
            continue
        if str(status) == "201":
            headers["Location"] = "Location"
        if (
            operation.get("security")
            and str(status) in ("200", "201")
            and key not in WRITES_WITHOUT_ETAG
        ):
            headers["ETag"] = "RecordETag"


def _document_headers(
    method: str, path: str, operation: dict[str, Any], ok: dict[str, Any], described: Operation
) -> None:
    """The headers a read sends (:func:`directory.web.http._cache_headers`,
    :func:`~directory.web.http.byte_ranges`) on each answer: the 200's, and the same on a
    206 with its Content-Range; Cache-Control on a 404 or 410 (kept as long as a 200) and on
    an outage (never kept, with Retry-After on a 503)."""
    headers = ok.setdefault("headers", {})
    if method == "get":
        _document_error_headers(operation)
    if path in PROBES:
        headers["Cache-Control"] = "NoStore"
        return
    if method != "get":
        return
    headers.update(ETag="ETag", **{"Cache-Control": "CacheControl"})
    headers["Last-Modified"] = "LastModified"
    if described.paged:
        headers["Link"] = {
            "json": "LinkOnJson",
            "not-json": "LinkNotOnJson",
            "offset": "LinkOffset",
        }.get(str(described.paged), "Link")
    content = ok.get("content", {})
    if http.CSV_MIMETYPE in content or http.CALENDAR_MIMETYPE in content:
        headers["Content-Disposition"] = "ContentDisposition"
    if http.CSV_MIMETYPE in content and described.id in TOTAL_ON_CSV:
        headers["X-Total-Count"] = "TotalCount"
    headers["Accept-Ranges"] = "AcceptRanges"
    operation.setdefault("parameters", []).extend(
        ["IfNoneMatch", "IfModifiedSince", "IfMatchRead", "IfUnmodifiedSince"]
    )
    operation["responses"]["304"] = "NotModified"
    operation["responses"]["412"] = "PreconditionFailed"
    operation["responses"]["206"] = {
        "description": "Partial Content: the part of the answer a `Range: bytes=first-last` "
        "(or `bytes=-n`) header asked for, of the answer as sent (gzip or not); with "
        "`If-Range`, only while the answer's ETag is the one given (else the whole, 200). "
        "A Range that does not parse is ignored, several ranges get the whole answer (200); "
        "one not in the answer is a 416 problem.",
        "headers": {**headers, "Content-Range": "ContentRange"},
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ok.get("content", {})
        },
    }
    operation["responses"]["416"] = "RangeNotSatisfiable"


def _document_error_headers(operation: dict[str, Any]) -> None:
    """A read's 404 and 410 carry the Cache-Control of its 200s (a CDN keeps "not here" no
    longer than an answer); a 5xx it documents, ``no-store`` and on a 503 Retry-After."""
    for status, response in operation.get("responses", {}).items():
        if not isinstance(response, dict) or "$ref" in response:
            continue
        if str(status) in ("404", "410"):
            response.setdefault("headers", {})["Cache-Control"] = "CacheControl"
        elif str(status).startswith("5"):
            response.setdefault("headers", {}).update(OUTAGE_HEADERS)


def spec_options(public_url: str | None) -> dict[str, Any]:
    """The document's ``info`` (beyond title and version) and ``servers``: the public base
    URL when configured (DIRECTORY_PUBLIC_URL), else relative to where the document is
    served."""
    contact: dict[str, str] = {"name": "London Funded Services Directory"}
    if public_url:
        contact["url"] = public_url
    return {
        "info": {
            "description": (
                "What is funded in my patch: London's community-safety services tagged by "
                "ward, borough and Met Police Basic Command Unit. Errors are "
                "application/problem+json (RFC 9457) with a stable `code`. Reads carry an "
                "ETag, Cache-Control and (when read from the loaded data) Last-Modified, "
                "and answer a conditional request (If-None-Match, If-Modified-Since) with "
                "304 Not Modified while the answer is unchanged, and one whose If-Match or "
                "If-Unmodified-Since fails with a 412 problem."
            ),
            "contact": contact,
            "license": {"name": "Data: Open Government Licence v3.0"},
        },
        "servers": [
            {
                "url": public_url or "/",
                "description": "This deployment" if public_url else "Where this document is served",
            }
        ],
    }
