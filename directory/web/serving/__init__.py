"""How the API is served in production: gunicorn's settings (``gunicorn.py``, which
``directory serve`` runs with) and the nginx site that sits in front of it
(``nginx.conf``, written out by ``directory nginx-config``)."""

from __future__ import annotations

from importlib.resources import files

from directory.settings import REQUEST_SECONDS, Settings

#: ``python:`` module gunicorn reads its settings from (``gunicorn -c``)
GUNICORN_CONFIG = "python:directory.web.serving.gunicorn"
#: the largest body the app takes on any request but an import (``MAX_CONTENT_LENGTH``)
REQUEST_MAX_MB = 2
#: room above the upload limit for a multipart form's boundaries, part headers and fields
ENVELOPE_MB = 1


def max_body_mb(max_upload_mb: int) -> int:
    """nginx's ``client_max_body_size`` (MB) for an API taking uploads of ``max_upload_mb``
    (``DIRECTORY_MAX_UPLOAD_MB``): every body the API may take reaches it, so the API, not
    nginx, judges an upload's size and answers its own 413 problem."""
    return max(max_upload_mb, REQUEST_MAX_MB) + ENVELOPE_MB


def read_timeout(request_seconds: int) -> int:
    """nginx's ``proxy_read_timeout`` (s): past gunicorn's worker timeout (and at least the
    120 s it has always been), so that a request gunicorn still lets run is waited for."""
    return max(120, request_seconds + 30)


def nginx_site(
    listen: str, upstream: str, server_name: str = "_", *,
    max_upload_mb: int = Settings.max_upload_mb, request_seconds: int = REQUEST_SECONDS,
) -> str:  # fmt: skip
    """The nginx ``server`` (and ``upstream``) block for one deployment, its body limit
    following ``max_upload_mb`` (``DIRECTORY_MAX_UPLOAD_MB``) and its wait for an answer
    ``request_seconds`` (``Settings.request_seconds``: gunicorn's worker timeout)."""
    from directory.web.http import EXPOSED_HEADERS

    template = files(__package__).joinpath("nginx.conf").read_text("utf-8")
    return (
        template.replace("@LISTEN@", listen)
        .replace("@DEFAULT_SERVER@", " default_server" if server_name == "_" else "")
        .replace("@UPSTREAM@", upstream)
        .replace("@SERVER_NAME@", server_name)
        .replace("@MAX_BODY_MB@", str(max_body_mb(max_upload_mb)))
        .replace("@READ_TIMEOUT@", str(read_timeout(request_seconds)))
        .replace("@EXPOSE_HEADERS@", ", ".join(EXPOSED_HEADERS))
    )
