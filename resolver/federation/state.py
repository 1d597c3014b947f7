"""What federation keeps in the store's ``meta``: its settings and each upstream's health.

Here, below the service, so that both the service and the federation runtime that drives it read the
same names without federation/ importing the service (no import cycle between the two packages)."""

from __future__ import annotations

FEDERATION_META = "federation"  # set while this node has upstream top-level nodes (see resolver/federation)


def health_key(upstream: str) -> str:
    return f"upstream:{upstream}"
