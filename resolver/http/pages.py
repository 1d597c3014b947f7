"""HTML for people with a phone: a handle's record, an item's trace, and errors, readable on a small
screen, in Chinese or English (resolver/http/console/public.py renders them with the console's templates)."""

from __future__ import annotations

from .console.public import error_page, record_page, trace_page

__all__ = ["error_page", "record_page", "trace_page"]
