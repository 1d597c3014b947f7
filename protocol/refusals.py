"""Kinds of refusal beyond a response code, for what the REST API answers differently from the
response code's usual HTTP status (``codes.http_status``).

The service raises a kind (a conflict with what the node holds, a precondition that failed, storage
that cannot take the write …) with its response code and message; which HTTP status a REST client
gets for it is decided here, in the codec, never by the operation.
"""

from __future__ import annotations

import math

from .codes import HandleError


class _Kind(HandleError):
    STATUS = 400

    def __init__(self, rc: int, message: str, *, field: str | None = None, details: list | None = None):
        super().__init__(rc, message, status=self.STATUS, field=field, details=details)


class Invalid(_Kind):
    """A whole refused for what its parts got wrong (an EPCIS document's events): nothing of it is taken,
    ``details`` names each part's problem."""

    STATUS = 400


class Conflict(_Kind):
    """The request conflicts with what the node holds now (a prefix that still holds handles)."""

    STATUS = 409


class PreconditionFailed(_Kind):
    """A conditional write (If-Match, If-None-Match) whose condition does not hold."""

    STATUS = 412


class ValueMissing(_Kind):
    """A value named by its index that the handle does not have."""

    STATUS = 404


class TooLarge(_Kind):
    """More in one request than the operation takes."""

    STATUS = 413


class Unavailable(_Kind):
    """The node cannot do it now (its storage failed a write, a schema it needs cannot be read)."""

    STATUS = 503


class Busy(_Kind):
    """The node is too busy to take this now (its writes pile up): try again after ``retry_after``
    seconds (HTTP's Retry-After)."""

    STATUS = 503

    def __init__(self, rc: int, message: str, retry_after: float, *, field: str | None = None):
        super().__init__(rc, message, field=field)
        self.retry_after = max(1, math.ceil(retry_after))


class StorageFull(_Kind):
    """The node's storage has no room for the write."""

    STATUS = 507


class Gone(_Kind):
    """What was asked for existed and is no longer kept (change-log entries that were pruned)."""

    STATUS = 410


class Moved(_Kind):
    """Another node takes this request (a mirror's primary, another server of this site): ``redirect_to``
    is where."""

    STATUS = 307

    def __init__(self, rc: int, message: str, redirect_to: str, *, field: str | None = None):
        super().__init__(rc, message, field=field)
        self.redirect_to = redirect_to
