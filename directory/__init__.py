"""London Funded Services Directory: the Flask application.

``create_app`` is imported when first asked for, not with the package: gunicorn's master
reads its settings from ``directory.web.serving.gunicorn`` (and so imports this package)
without importing the application, and the workers it starts import the application's
code as it is on disk then, so that a ``kill -HUP`` serves new code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from directory.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from directory.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
