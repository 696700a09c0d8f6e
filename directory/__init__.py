"""London Funded Services Directory: the Flask application."""

from __future__ import annotations

from directory.app import create_app

__all__ = ["create_app"]
