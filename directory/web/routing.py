"""The URL map: one address per resource, a trailing slash sent on to it.

Werkzeug already sends ``/x`` on to ``/x/`` for a route declared with a slash (a 308), but
answers ``/x/`` for a route declared without one with a 404: a client that joins paths
with a slash (``/api/v1/services/``) was told the collection does not exist. Here such a
path is sent on to the route's own address by a 308 Permanent Redirect, which keeps the
method and body (a write is sent on as a write) and the query string as sent; one rule
for every route, the API's, the OGC API's and the page's. The roots declared with
``strict_slashes=False`` (``/api/v1``, ``/api/v1/ogc``, ``/api/v1/hsds``) answer at both:
the OGC API and HSDS name their root ``/``, which a client joins to the base URL it was
given.

A path is written back as the client sent it (:func:`path_as_sent`): the server decodes it
before routing, and a ref's escaped ``/`` decoded names another address.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, MapAdapter, PathConverter, RequestRedirect

#: what a path keeps unescaped where the API writes one (a redirect's Location, a problem's
#: instance, a page's links): RFC 3986's sub-delimiters, ":", "@" and "/" (Werkzeug's own
#: slash redirect's set); a space, a non-ASCII letter or "%" is percent-encoded
PATH_SAFE = "!$&'()*+,/:;=@"
#: the raw request URI a server keeps in the environ: gunicorn's, then uWSGI's, mod_wsgi's and
#: werkzeug's (its development server and test client set both)
_RAW_URI_KEYS = ("RAW_URI", "REQUEST_URI")
#: a "%" that starts no escape (sent bare, it is written "%25")
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
#: the slashes a path ends in, escaped or not
_TRAILING_SLASHES = re.compile(r"(?:/|%2[Ff])+$")


def path_as_sent(environ: dict[str, Any], routed: str) -> str:
    """The request's path as the client sent it, percent-encoded (without the query), for
    the path ``routed`` (decoded, as routing reads it). The server decodes the path before
    routing, and the decoded path is another address where a ref holds an escaped ``/``
    (``/services/abc%2Fdef`` is not ``/services/abc/def``), ``?``, ``#`` or ``%``: so it
    is the raw request URI's path when the server gives one that decodes to ``routed`` (a
    proxy or middleware that rewrote the path leaves none), with anything a URI may not
    hold bare escaped; else ``routed``, each segment escaped again."""
    for key in _RAW_URI_KEYS:
        raw = environ.get(key)
        path = _raw_path(raw) if isinstance(raw, str) and raw else None
        if path is not None and unquote(path, errors="replace") == routed:
            return path
    return quote(routed, safe=PATH_SAFE)


def _raw_path(raw: str) -> str | None:
    """The path of a raw request URI (a WSGI string: its bytes as Latin-1), as a URI
    reference; None for a request target with no path (``*``)."""
    try:
        sent = raw.encode("latin-1")
    except UnicodeEncodeError:
        return None
    if not sent.startswith(b"/"):  # the absolute form a proxy is sent: http://host/path?q
        sent = urlsplit(sent).path
        if not sent.startswith(b"/"):
            return None
    sent = sent.split(b"?", 1)[0].split(b"#", 1)[0]
    return _BARE_PERCENT.sub("%25", quote(sent, safe=PATH_SAFE + "%"))


#: the names an item route takes after a record's ref (``/services/<ref>/sites``)
SUBRESOURCES = ("history", "outcomes", "sites", "feedback", "merge")


class RefConverter(PathConverter):
    """``<ref:…>``: a record's id or ref, which may hold ``/``. An importer takes any
    one-line text as a ref (a 360Giving grant id such as ``360G-X-2016/17-04``, a
    template's Service ref), and a client escapes its ``/`` as ``%2F``, which the WSGI
    server decodes into the path before routing: ``/services/abc%2Fdef`` arrives as
    ``/services/abc/def``, which ``<string:…>`` took for no route's (a 404 of werkzeug's
    own, not the record's). A path's own routes still come first: ``/services/x/history``
    is the history of ``x``, and a ref ending in ``/history`` is read by its id. No ref ends
    in ``/`` (that is the trailing slash :class:`SlashlessAdapter` sends on), nor in one of
    the item routes' own names (:data:`SUBRESOURCES`): ``/services/x/sites`` is the sites of
    ``x`` for every method, and a PATCH there its 405, not a change of a service
    ``x/sites``."""

    regex = r"[^/](?:.*?[^/])??" + "".join(f"(?<!/{name})" for name in SUBRESOURCES)
    part_isolating = False


class ServiceRefConverter(RefConverter):
    """``<service_ref:…>``: a service's id or ref, as :class:`RefConverter`'s, that holds no
    ``/sites/``: on every ``/services/…`` route that path is its sites'
    (``/services/<service_ref:key>/sites/<last_ref:site_ref>``), the service's ref being
    what comes before the first ``/sites/``. A site's ref may hold ``/`` and end in any
    word, ``/history``, ``/outcomes`` and ``/feedback`` too (an import takes any one-line
    text as one), and only its service's routes know no other address of it, where a
    service has its id: so ``/services/A/sites/x/history`` is the site ``x/history`` of
    ``A``, for every method, not the history of a service ``A/sites/x`` (which GET took,
    and PATCH took for the site), and a service whose ref holds ``/sites/`` is reached by
    its id on all its routes, as on its item route. Refusing such site refs instead would
    refuse a source's data for the sake of our paths, and leave ``…/outcomes/5`` and any
    route added later to collide again."""

    regex = r"[^/](?:(?:(?!/sites/).)*?[^/])??" + "".join(f"(?<!/{name})" for name in SUBRESOURCES)


class LastRefConverter(PathConverter):
    """``<last_ref:…>``: a ref that ends the path and may hold ``/``: a delivery site's
    (``/services/<service_ref:key>/sites/<last_ref:site_ref>``). An import takes any
    one-line text as a site's ref, and makes one from its service's where none is given
    (``<service ref>#site``, as a write makes ``<service ref>#site-<n>``), so a service
    whose ref holds ``/`` has sites whose refs do; sent as ``%2F`` and decoded before
    routing, ``<string:…>`` took such a path for no route's (werkzeug's 404). What comes
    before the first ``/sites/`` is the service's ref (:class:`ServiceRefConverter`: a
    service whose ref holds ``/sites/`` is reached by its id), whatever the site's ref ends
    in (``…/sites/x/history`` is the site ``x/history``). As a ref, it does not end in
    ``/`` (the trailing slash :class:`SlashlessAdapter` sends on)."""

    regex = r"[^/](?:.*[^/])?"
    part_isolating = False


class SlashlessMap(Map):
    """A :class:`~werkzeug.routing.Map` whose adapters send a trailing slash on to the
    route without it (:class:`SlashlessAdapter`). Flask makes it as ``url_map_class``."""

    def bind(self, *args: Any, **kwargs: Any) -> MapAdapter:
        return self._slashless(super().bind(*args, **kwargs))

    def bind_to_environ(self, environ: Any, *args: Any, **kwargs: Any) -> MapAdapter:
        # (Werkzeug's calls Map.bind by name, not self.bind)
        adapter = self._slashless(super().bind_to_environ(environ, *args, **kwargs))
        if isinstance(environ, dict):  # (Werkzeug takes a request too)
            adapter.environ = environ
        return adapter

    def _slashless(self, adapter: MapAdapter) -> SlashlessAdapter:
        return SlashlessAdapter(
            self, adapter.server_name, adapter.script_name, adapter.subdomain,
            adapter.url_scheme, adapter.path_info, adapter.default_method, adapter.query_args,
        )  # fmt: skip


class SlashlessAdapter(MapAdapter):
    """Matches as Werkzeug does; a path no route takes that ends in ``/`` is matched again
    without its trailing slashes:

    * a route there for this method: a 308 to it, the query string as sent;
    * a route there for other methods: the 405 that route gives, naming them (``Allow``);
    * a CORS preflight (OPTIONS): answered as that route answers it, not sent on (a
      browser fails a preflight that is redirected, and so never sent the write whose 308
      it would have followed);
    * no route there either: the 404.

    The redirect names the path as the client sent it (:func:`path_as_sent`), a ref's
    ``%2F`` kept.
    """

    #: the request's environ, when bound to one (its raw request URI)
    environ: dict[str, Any] | None = None

    def match(  # type: ignore[override]
        self,
        path_info: str | None = None,
        method: str | None = None,
        return_rule: bool = False,
        query_args: Any = None,
        websocket: bool | None = None,
    ) -> Any:
        try:
            return super().match(path_info, method, return_rule, query_args, websocket)
        except NotFound:
            path = self.path_info if path_info is None else path_info
            slashless = path.rstrip("/")
            if not slashless or slashless == path:
                raise
            try:
                found = super().match(slashless, method, return_rule, query_args, websocket)
            except NotFound:
                raise NotFound() from None
        if (method or self.default_method).upper() == "OPTIONS":
            return found
        raise RequestRedirect(self.make_redirect_url(self._sent(path, slashless), query_args))

    def _sent(self, path: str, slashless: str) -> str:
        """``slashless`` as the client sent ``path`` without its trailing slashes."""
        sent = (
            quote(path, safe=PATH_SAFE)
            if self.environ is None
            else path_as_sent(self.environ, path)
        )
        target = _TRAILING_SLASHES.sub("", sent)
        return target if unquote(target) == slashless else quote(slashless, safe=PATH_SAFE)
