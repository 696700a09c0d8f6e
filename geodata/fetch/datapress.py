"""The London Datastore (DataPress) dataset API: a dataset's resources and licence.

``GET https://data.london.gov.uk/api/dataset/<slug-or-id>`` (it may redirect to
``/api/v2/…``) answers the dataset with ``resources``, a dict keyed by resource id whose
entries carry ``title``, ``format``, ``url``, ``temporal_coverage_to`` and
``check_timestamp`` (DATA-SOURCES.md §6). Resource download URLs change with each
release, so they are read from here every time, never stored as configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from geodata.errors import FetchError

if TYPE_CHECKING:
    from geodata.fetch.http import Client

__all__ = ["DATASET_URL", "dataset", "dataset_url", "licence_of", "resource_version", "is_format"]

DATASET_URL = "https://data.london.gov.uk/api/dataset/{id}"
#: Resource fields that identify a resource's content; ``check_timestamp`` is left out
#: because a link checker may refresh it without any change to the file.
_VERSION_FIELDS = ("temporal_coverage_from", "temporal_coverage_to", "check_hash", "check_size")


def dataset_url(dataset_id: str) -> str:
    """The dataset API URL of a slug or short id."""
    return DATASET_URL.format(id=dataset_id)


def dataset(client: Client, dataset_id: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Read a dataset and its resources.

    Parameters
    ----------
    client : Client
    dataset_id : str
        Slug or short id (``exy3m``).

    Returns
    -------
    (dict, dict)
        The dataset JSON, and its resources keyed by resource id (a list of resources
        with ``id`` members is accepted too).

    Raises
    ------
    FetchError
        The answer is not a dataset with resources, or a resource has no ``url``.
    """
    url = dataset_url(dataset_id)
    answer = client.get_json(url)
    raw = answer.get("resources") if isinstance(answer, dict) else None
    if isinstance(raw, list):
        raw = {str(r.get("id", n)): r for n, r in enumerate(raw) if isinstance(r, dict)}
    if not isinstance(raw, dict) or not raw:
        raise FetchError(
            f"{url}: expected a DataPress dataset with a 'resources' object, got keys "
            f"{sorted(answer)[:12] if isinstance(answer, dict) else type(answer).__name__}",
            url=url,
        )
    resources: dict[str, dict[str, Any]] = {}
    for rid, resource in raw.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("url"), str):
            raise FetchError(f"{url}: resource {rid} has no url: {resource!r:.200}", url=url)
        resources[str(rid)] = resource
    return answer, resources


def licence_of(answer: dict[str, Any]) -> str | None:
    """The dataset's licence as stated in its JSON, if it states one."""
    for key in ("licence", "license", "licence_title", "license_title"):
        value = answer.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, dict):
            for inner in ("title", "name", "id"):
                if isinstance(value.get(inner), str) and value[inner].strip():
                    return value[inner].strip()
    return None


def is_format(resource: dict[str, Any], extension: str) -> bool:
    """Whether a resource's ``format`` (or its URL's file name) is ``extension``."""
    fmt = str(resource.get("format") or "").strip().lower().lstrip(".")
    path = unquote(urlsplit(str(resource.get("url", ""))).path).lower()
    return fmt == extension or path.endswith("." + extension)


def resource_version(resource_id: str, resource: dict[str, Any], url: str) -> dict[str, Any]:
    """The JSON identifying a resource's release: id, URL and its content fields."""
    version: dict[str, Any] = {"resource": resource_id, "url": url}
    for key in _VERSION_FIELDS:
        if resource.get(key) not in (None, ""):
            version[key] = resource[key]
    return version
