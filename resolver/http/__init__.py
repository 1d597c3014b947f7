"""The HTTP API: Handle.Net REST-compatible handle routes, the node's own additions, scanner pages."""

from .app import create_app

__all__ = ["create_app"]
