"""The version of the running build, as installed (pyproject.toml)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def node_version() -> str:
    try:
        return version("idnode")
    except PackageNotFoundError:
        return "0+unknown"
