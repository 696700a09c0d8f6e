"""ArcGIS Online search and feature-service paging, as the ONS Open Geography Portal uses.

ONS publishes every release as a new ArcGIS Online item owned by ``ONSGeography_data``
(DATA-SOURCES.md §2, §3): there is no fixed "latest" URL, so each fetcher first searches
the items (newest first) and then downloads the item's data, or pages the features of
its Feature Service.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from geodata.errors import FetchError

if TYPE_CHECKING:
    from geodata.fetch.http import Client

__all__ = [
    "ONS_OWNER",
    "SEARCH_URL",
    "hub_csv_url",
    "item_data_url",
    "layer_url",
    "query_pages",
    "search",
    "search_url",
]

SEARCH_URL = "https://www.arcgis.com/sharing/rest/search"
ONS_OWNER = "ONSGeography_data"
ITEM_DATA_URL = "https://www.arcgis.com/sharing/rest/content/items/{id}/data"
#: The Open Geography Portal's Hub download API (flat CSV of a hosted table).
HUB_CSV_URL = "https://open-geography-portalx-ons.hub.arcgis.com/api/download/v1/items/{id}/csv"
#: Stop paging after this many pages (a server that never stops is an error).
MAX_PAGES = 1000


def _search_params(query: str, num: int) -> dict[str, str]:
    return {
        "q": query,
        "sortField": "created",
        "sortOrder": "desc",
        "num": str(num),
        "f": "json",
    }


def search_url(query: str, num: int = 20) -> str:
    """The full search URL (official form), for provenance."""
    return f"{SEARCH_URL}?{urlencode(_search_params(query, num))}"


def search(client: Client, query: str, num: int = 20) -> list[dict[str, Any]]:
    """Search ArcGIS Online items, newest created first.

    Parameters
    ----------
    client : Client
    query : str
        ArcGIS search syntax, e.g. ``owner:ONSGeography_data AND title:"…"``.
    num : int, default 20
        Results wanted (one page).

    Returns
    -------
    list of dict
        The ``results`` items (each has at least ``id``, ``title`` and ``type``).

    Raises
    ------
    FetchError
        If the answer has no ``results`` list or an item lacks ``id``/``title``/``type``.
    """
    answer = client.get_json(SEARCH_URL, params=_search_params(query, num))
    where = search_url(query, num)
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise FetchError(
            f"{where}: expected an ArcGIS search answer with a 'results' list, got "
            f"{type(answer).__name__} with keys {sorted(answer)[:10] if isinstance(answer, dict) else '-'}",
            url=where,
        )
    items = []
    for item in results:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) and item.get(k) for k in ("id", "title", "type")
        ):
            raise FetchError(f"{where}: a search result lacks id, title or type: {item!r:.200}")
        items.append(item)
    return items


def item_data_url(item_id: str) -> str:
    """``…/sharing/rest/content/items/<id>/data``: an item's file (e.g. a CSV Collection zip)."""
    return ITEM_DATA_URL.format(id=item_id)


def hub_csv_url(item_id: str) -> str:
    """The Hub download API URL of a hosted table's flat CSV (ask with ``layers=0``)."""
    return HUB_CSV_URL.format(id=item_id)


def layer_url(service_url: str) -> str:
    """Layer 0 of a Feature/Map Server URL (unchanged when it already names a layer)."""
    service_url = service_url.rstrip("/")
    if re.search(r"/(?:Feature|Map)Server/\d+$", service_url, re.IGNORECASE):
        return service_url
    return service_url + "/0"


def _exceeded(page: dict[str, Any]) -> bool:
    """``exceededTransferLimit``, top-level (Esri JSON) or under ``properties`` (GeoJSON)."""
    if page.get("exceededTransferLimit") is True:
        return True
    properties = page.get("properties")
    return isinstance(properties, dict) and properties.get("exceededTransferLimit") is True


def query_pages(
    client: Client,
    layer: str,
    params: dict[str, str],
    page_size: int,
) -> list[dict[str, Any]]:
    """Every GeoJSON feature a layer query answers, paging with ``resultOffset``.

    Parameters
    ----------
    client : Client
    layer : str
        The layer URL (``…/FeatureServer/0``); ``/query`` is appended.
    params : dict
        Query parameters (``where``, ``outFields``, ``outSR``, ``f=geojson`` …).
    page_size : int
        ``resultRecordCount`` asked for; the server may answer fewer (its
        ``maxRecordCount``), so the offset advances by the features received.

    Returns
    -------
    list of dict
        GeoJSON features, in the order received.

    Raises
    ------
    FetchError
        An ArcGIS error (also with HTTP 200), an answer that is not a FeatureCollection,
        a page repeated, or more than :data:`MAX_PAGES` pages.

    Notes
    -----
    Paging continues while ``exceededTransferLimit`` is true (top-level or under
    ``properties``) and stops at an empty page.
    """
    url = f"{layer.rstrip('/')}/query"
    features: list[dict[str, Any]] = []
    offset = 0
    previous_first: Any = None
    for _ in range(MAX_PAGES):
        page_params = {
            **params,
            "resultOffset": str(offset),
            "resultRecordCount": str(page_size),
        }
        page = client.get_json(url, params=page_params)
        shown = f"{url}?{urlencode(page_params)}"
        if not isinstance(page, dict) or not isinstance(page.get("features"), list):
            raise FetchError(
                f"{shown}: expected a GeoJSON FeatureCollection with 'features', got "
                f"{str(page)[:200]}",
                url=shown,
            )
        batch = page["features"]
        if not batch:
            return features
        first = batch[0].get("id", batch[0].get("properties")) if isinstance(batch[0], dict) else 0
        if offset and first == previous_first:
            raise FetchError(
                f"{shown}: the server answered the same page again (resultOffset ignored?)",
                url=shown,
            )
        previous_first = first
        features.extend(batch)
        if not _exceeded(page):
            return features
        offset += len(batch)
    raise FetchError(f"{url}: more than {MAX_PAGES} pages; giving up", url=url)
