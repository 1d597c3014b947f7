"""Handle System response codes (RFC 3651 §2.2.2.3) and the HTTP status each maps to."""

from __future__ import annotations

from enum import IntEnum


class RC(IntEnum):
    SUCCESS = 1
    ERROR = 2
    SERVER_TOO_BUSY = 3
    PROTOCOL_ERROR = 4
    OPERATION_NOT_SUPPORTED = 5
    RECURSION_COUNT_TOO_HIGH = 6
    SERVER_BACKUP = 7  # a read-only copy (a mirror): writes go to the primary
    HANDLE_NOT_FOUND = 100
    HANDLE_ALREADY_EXISTS = 101
    INVALID_HANDLE = 102
    VALUES_NOT_FOUND = 200
    VALUE_ALREADY_EXISTS = 201
    INVALID_VALUE = 202
    EXPIRED_SITE_INFO = 300
    SERVER_NOT_RESPONSIBLE = 301
    SERVICE_REFERRAL = 302
    PREFIX_REFERRAL = 303
    NOT_AUTHORIZED = 400
    ACCESS_DENIED = 401
    AUTHENTICATION_NEEDED = 402
    AUTHENTICATION_FAILED = 403
    INVALID_CREDENTIAL = 404
    AUTHENTICATION_TIMEOUT = 405
    UNABLE_TO_AUTHENTICATE = 406
    SESSION_TIMEOUT = 500
    SESSION_FAILED = 501
    INVALID_SESSION_KEY = 502
    SESSION_MESSAGE_REJECTED = 505
    # China's identifier system (id-pointer-sdk AbstractMessage): quotas of an enterprise prefix.
    REQUEST_LIMIT_DAILY = 603
    REGISTER_COUNT_LIMIT = 604
    PREFIX_LIMIT = 605


# COMPAT.md: what Handle.Net's REST API answers for each response code.
_HTTP_STATUS = {
    RC.SUCCESS: 200,
    RC.ERROR: 500,
    RC.SERVER_TOO_BUSY: 503,
    RC.SERVER_BACKUP: 503,
    RC.PROTOCOL_ERROR: 400,
    RC.OPERATION_NOT_SUPPORTED: 400,
    RC.HANDLE_NOT_FOUND: 404,
    RC.HANDLE_ALREADY_EXISTS: 409,
    RC.INVALID_HANDLE: 400,
    RC.VALUES_NOT_FOUND: 200,
    RC.VALUE_ALREADY_EXISTS: 409,
    RC.INVALID_VALUE: 400,
    RC.SERVER_NOT_RESPONSIBLE: 400,
    RC.AUTHENTICATION_NEEDED: 401,
    RC.NOT_AUTHORIZED: 403,
    RC.ACCESS_DENIED: 403,
    RC.AUTHENTICATION_FAILED: 403,
    RC.INVALID_CREDENTIAL: 403,
    RC.REQUEST_LIMIT_DAILY: 429,  # too many requests today: retry tomorrow (Retry-After says when)
    RC.REGISTER_COUNT_LIMIT: 403,  # the prefix holds as many handles as it may
    RC.PREFIX_LIMIT: 403,  # the prefix has as many prefixes under it as it may
}


def http_status(rc: int) -> int:
    """HTTP status for a response code, as the Handle.Net REST API answers it."""
    return _HTTP_STATUS.get(rc, 500 if rc < 100 else 400)


class HandleError(Exception):
    """A request the node refuses: a response code and a message naming the problem.

    ``status`` overrides the HTTP status where the REST API answers differently from the table
    (a body too large, a missing index on delete). ``details`` carries what each part of a refused
    whole (the events of a document) got wrong.
    """

    def __init__(self, rc: int, message: str, *, status: int | None = None, field: str | None = None,
                 details: list | None = None):
        super().__init__(message)
        self.rc = int(rc)
        self.message = message
        self.status = status if status is not None else http_status(rc)
        self.field = field
        self.details = details  # a refusal of many parts: one JSON-able entry per part
