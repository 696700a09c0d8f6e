"""How the API is served in production: gunicorn's settings (``gunicorn.py``, which
``directory serve`` runs with) and the nginx site that sits in front of it
(``nginx.conf``, written out by ``directory nginx-config``)."""

from __future__ import annotations

from importlib.resources import files

#: ``python:`` module gunicorn reads its settings from (``gunicorn -c``)
GUNICORN_CONFIG = "python:directory.web.serving.gunicorn"


def nginx_site(listen: str, upstream: str, server_name: str = "_") -> str:
    """The nginx ``server`` (and ``upstream``) block for one deployment."""
    template = files(__package__).joinpath("nginx.conf").read_text("utf-8")
    return (
        template.replace("@LISTEN@", listen)
        .replace("@UPSTREAM@", upstream)
        .replace("@SERVER_NAME@", server_name)
    )
